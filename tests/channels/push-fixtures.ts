// Test plumbing for the push and whatsapp channels: a loopback HTTP server whose answers a test
// writes as a function of the request, keys and self-signed certificates made per run (openssl for
// the X.509 ones), a local HTTP/2 TLS server playing APNs, and a Fusion + API harness on a SQLite
// file or a Redis prefix.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import type { Job } from '../../src/core/job.js';
import type { Logger } from '../../src/core/logger.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { REDIS_URL, dropPrefix, testPrefix } from '../helpers/redis.js';

export interface Hit {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json?: any;
  form: URLSearchParams;
}

export type Answer = { status?: number; body?: unknown; headers?: Record<string, string> };

/** A loopback HTTP server: every request kept; `answer(hit)` decides the reply (default 200 {}). */
export class Loop {
  readonly hits: Hit[] = [];
  answer: (h: Hit) => Answer = () => ({ status: 200, body: {} });
  private server: Server;
  base = '';

  constructor() {
    this.server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        let json: unknown;
        try {
          json = data ? JSON.parse(data) : undefined;
        } catch {
          json = undefined;
        }
        const hit: Hit = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: data, json, form: new URLSearchParams(data) };
        this.hits.push(hit);
        const a = this.answer(hit);
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? {}));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  at(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** An RSA service account (its public key to verify the JWT it signs). */
export function serviceAccount(tokenUri: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return {
    account: { type: 'service_account', project_id: 'fusion-test', private_key_id: 'kid-1', private_key: privateKey, client_email: 'push@fusion-test.iam.gserviceaccount.com', token_uri: tokenUri },
    publicKey,
  };
}

/** An APNs .p8-like key (EC P-256, PKCS#8) and its public key. */
export function apnsKey() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
}

/** A self-signed certificate and key (openssl), for 127.0.0.1 and localhost. */
export function selfSigned(dir: string, cn: string): { cert: string; key: string } {
  const keyFile = join(dir, `${cn}.key`);
  const certFile = join(dir, `${cn}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

export interface ApnsHit {
  headers: IncomingHttpHeaders;
  body: any;
  /** The client certificate's CN, when one was presented. */
  clientCn?: string;
}

/** A local HTTP/2 TLS server playing APNs: `answer(hit)` decides the status, body and apns-id. */
export class FakeApns {
  readonly hits: ApnsHit[] = [];
  answer: (h: ApnsHit) => { status: number; body?: unknown; apnsId?: string } = () => ({ status: 200 });
  private server: Http2SecureServer;
  private sessions = new Set<ServerHttp2Session>();
  base = '';
  private seq = 0;

  constructor(tls: { cert: string; key: string; clientCa?: string }) {
    this.server = createSecureServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: tls.clientCa } : {}) });
    this.server.on('session', (s: ServerHttp2Session) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    this.server.on('stream', (stream: ServerHttp2Stream, headers) => {
      let data = '';
      stream.setEncoding('utf8');
      stream.on('data', (c) => (data += c));
      stream.on('end', () => {
        const peer = (stream.session?.socket as unknown as { getPeerCertificate?: () => { subject?: { CN?: string } } } | undefined)?.getPeerCertificate?.();
        const hit: ApnsHit = { headers, body: data ? JSON.parse(data) : undefined, ...(peer?.subject?.CN ? { clientCn: peer.subject.CN } : {}) };
        this.hits.push(hit);
        const a = this.answer(hit);
        stream.respond({ ':status': a.status, 'apns-id': a.apnsId ?? `apns-${++this.seq}`, ...(a.body ? { 'content-type': 'application/json' } : {}) });
        stream.end(a.body ? JSON.stringify(a.body) : undefined);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `https://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  close(): Promise<void> {
    // Clients keep their connection open (as APNs clients should): close waits for none of them.
    for (const s of this.sessions) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export const IOS_TOKEN = (n: number) => n.toString(16).padStart(64, 'a');
export const FCM_TOKEN = (n: number) => `fcm-token-${n}:APA91b${'x'.repeat(20)}`;

export interface Harness {
  fusion: Fusion;
  /** How to open the same store again (another process would). */
  open: NonNullable<Parameters<typeof Fusion.open>[0]>;
  app: Awaited<ReturnType<typeof buildServer>>;
  settled(id: string): Promise<Job>;
  close(): Promise<void>;
}

/** Fusion with channels, its API, and a worker on `queues`, on a SQLite file or a Redis prefix. */
/** `logger`: the Fusion's (a collecting one lets a test read what the channels log). */
export async function harness(target: 'sqlite' | 'redis', config: FusionConfig, queues: string[], logger?: Logger): Promise<Harness> {
  const tmp = tempDir('fusion-push-');
  const prefix = testPrefix();
  const open = target === 'sqlite'
    ? { store: `sqlite:${join(tmp.dir, 'f.db')}`, config: { outgoing: { allow: ['127.0.0.1/32'] }, ...config } }
    : { store: REDIS_URL, storeOptions: { prefix }, config: { outgoing: { allow: ['127.0.0.1/32'] }, ...config } };
  const fusion = await Fusion.open({ ...open, logger });
  const app = await buildServer({ fusion, processMetrics: false });
  await app.ready();
  // No queues: the test starts its worker itself, when it wants jobs to run.
  if (queues.length) fusion.worker({ queues, concurrency: 4, pollMs: 20 });
  const settled = async (id: string) => {
    let job: Job | null = null;
    await until(async () => {
      job = await fusion.store.getJob({ id });
      return !!job && ['completed', 'failed', 'cancelled'].includes(job.state);
    }, 15_000, `job ${id} settles`, 10);
    return job!;
  };
  return {
    fusion, open, app, settled,
    async close() {
      await app.close();
      if (target === 'redis') await dropPrefix((fusion.store as RedisStore).client, prefix);
      await fusion.close(500);
      tmp.remove();
    },
  };
}
