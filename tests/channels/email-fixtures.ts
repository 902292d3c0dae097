// Email test parts: a real SMTP server in-process (smtp-server) handing each received message to
// mailparser (DATA and RCPT TO replies scriptable), a self-signed certificate (openssl) for STARTTLS and for signing SNS messages, SNS
// message signing (versions 1 and 2), and a loopback file server for attachments, SNS certificates
// and subscription confirmations.
import { createSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { canonicalString } from '../../src/channels/email/sns.js';
import { tempDir } from '../helpers/tmp.js';

export interface Received {
  /** When the message's data had arrived (performance.now()). */
  at: number;
  from: string;
  rcpt: string[];
  raw: Buffer;
  mail: ParsedMail;
  user?: string;
  secure: boolean;
}

export interface SmtpSink {
  port: number;
  received: Received[];
  /** Resolves with the n-th message (1-based) once it has arrived. */
  nth(n: number): Promise<Received>;
  /** Replies to script for the next messages' DATA: a number is an SMTP error code. */
  failNext(...codes: number[]): void;
  /** Replies to script for an address's next RCPT TO commands, in turn (a 4xx or 5xx code); then it is accepted. */
  refuseRcpt(address: string, ...codes: number[]): void;
  close(): Promise<void>;
}

export async function smtpSink(opts: { tls?: { key: string; cert: string }; auth?: { user: string; pass: string }; parse?: boolean; reply?: (n: number) => string } = {}): Promise<SmtpSink> {
  const received: Received[] = [];
  const waiters = new Map<number, (r: Received) => void>();
  const failures: number[] = [];
  const refusals = new Map<string, number[]>();
  const parse = opts.parse !== false;
  const server = new SMTPServer({
    secure: false,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    disabledCommands: [...(opts.tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
    authOptional: !opts.auth,
    logger: false,
    size: 50 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      const code = refusals.get(address.address)?.shift();
      if (code) return cb(Object.assign(new Error(code >= 500 ? 'Mailbox unavailable' : 'Mailbox busy, try again later'), { responseCode: code }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const code = failures.shift();
        if (code) {
          const err = Object.assign(new Error(code >= 500 ? 'Message rejected' : 'Try again later'), { responseCode: code });
          return cb(err);
        }
        const raw = Buffer.concat(chunks);
        const r: Received = {
          at: performance.now(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcpt: session.envelope.rcptTo.map((a) => a.address),
          raw,
          mail: parse ? await simpleParser(raw) : (undefined as unknown as ParsedMail),
          user: session.user as string | undefined,
          secure: session.secure,
        };
        received.push(r);
        waiters.get(received.length)?.(r);
        cb(null, opts.reply ? opts.reply(received.length) : 'queued as ' + received.length);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    received,
    nth: (n) => (received[n - 1] ? Promise.resolve(received[n - 1]!) : new Promise((r) => waiters.set(n, r))),
    failNext: (...codes) => failures.push(...codes),
    refuseRcpt: (address, ...codes) => refusals.set(address, [...(refusals.get(address) ?? []), ...codes]),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A self-signed certificate for 127.0.0.1 (RSA 2048), made by openssl. */
export function selfSigned(): { key: string; cert: string } {
  const tmp = tempDir('fusion-cert-');
  try {
    const key = join(tmp.dir, 'k.pem');
    const cert = join(tmp.dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    tmp.remove();
  }
}

/** An SNS message signed as SNS signs it. */
export function signSns(fields: Record<string, string>, key: string, version: '1' | '2' = '1'): Record<string, string> {
  const m = { SignatureVersion: version, ...fields };
  const sig = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256').update(canonicalString(m)).sign(key, 'base64');
  return { ...m, Signature: sig };
}

export interface FileRequest { method: string; path: string }

/** A loopback server for files: routes by path, each a body (or a function writing the answer); records every request. */
export async function fileServer(routes: Record<string, (req: IncomingMessage) => { status?: number; headers?: Record<string, string>; body?: string | Buffer; hang?: boolean; chunks?: Buffer[] }>) {
  const requests: FileRequest[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? '', path: req.url ?? '' });
    const route = routes[path];
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    const r = route(req);
    if (r.hang) return;
    res.writeHead(r.status ?? 200, r.headers);
    if (r.chunks) {
      for (const c of r.chunks) res.write(c);
      res.end();
    } else res.end(r.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    base,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
