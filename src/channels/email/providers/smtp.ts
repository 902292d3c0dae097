// SMTP through nodemailer: one pooled transport per provider instance (connections kept open and
// reused, `maxConnections` at once, each retired after `maxMessages`), TLS from the start
// (`secure`, port 465) or STARTTLS (required by default: a server that does not offer it is refused
// rather than sent the mail in clear), optional auth. The message id is the Message-ID nodemailer
// wrote, or, through Amazon SES's SMTP interface (which replaces that header and answers
// "250 Ok <its id>"), SES's id, the one its delivery and bounce reports name; the server's answer is
// kept in the result.
//
// Errors: a 5xx reply is permanent (not retryable), a 4xx reply temporary (retryable); auth failures
// and a missing STARTTLS are configuration mistakes (not retryable); connection faults and timeouts
// are retryable. Recipients refused at RCPT TO while the mail went to the others are in the result
// (`refused`, 4xx ones retryable), for the channel to retry or drop. A mail whose `envelope` is set
// goes to those recipients only, its headers unchanged.
import nodemailer from 'nodemailer';
import type { Provider, ProviderFactory, RefusedRecipient } from '../../provider.js';
import { ProviderError } from '../../provider.js';
import { scrubError } from '../../sms/providers/common.js';
import { mailOptions } from '../mime.js';
import type { OutgoingEmail } from '../message.js';
import { configuredSender, schema, SENDER_PROPERTIES, senderOf, Settings } from './common.js';

const SECRETS = ['password'];
const NOT_RETRYABLE_CODES = new Set(['EAUTH', 'ENOAUTH', 'ETLS', 'EMESSAGE', 'EENVELOPE', 'EREQUIRETLS']);

export interface SmtpProvider extends Provider<OutgoingEmail> {
  /** Close the pooled connections (at shutdown; a later send opens new ones). */
  close(): void;
}

function classify(err: unknown, label: string): unknown {
  if (err instanceof ProviderError) return err;
  const e = err as { code?: string; responseCode?: number; response?: string; command?: string; message?: string };
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const retryable = reply !== undefined ? reply < 500 : !NOT_RETRYABLE_CODES.has(e.code ?? '');
  const code = reply !== undefined ? `smtp_${reply}` : (e.code ?? 'smtp_error');
  return new ProviderError(`${label}: ${e.message ?? String(err)}`, {
    code,
    retryable,
    raw: { code: e.code, responseCode: reply, response: e.response, command: e.command },
  });
}

/** Amazon SES's answer to a mail's data: its own message id. */
const SES_REPLY = /^250 Ok ([0-9a-f]+(?:-[0-9a-f]+)+)$/i;

type RejectedRcpt = { recipient?: string; responseCode?: number; response?: string };

/** The recipients refused at RCPT TO of a mail the server took for the others. */
function refusedOf(rejected: RejectedRcpt[] | undefined): RefusedRecipient[] {
  return (rejected ?? []).map((e) => ({
    address: String(e.recipient),
    code: typeof e.responseCode === 'number' ? `smtp_${e.responseCode}` : 'smtp_error',
    retryable: typeof e.responseCode !== 'number' || e.responseCode < 500,
    message: e.response ?? 'refused',
  }));
}

export const smtp: ProviderFactory<OutgoingEmail> = {
  type: 'smtp',
  channel: 'email',
  configSchema: schema({
    host: { type: 'string' },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'Default 465 when secure, else 587.' },
    secure: { type: 'boolean', description: 'TLS from the start (port 465). Default false: STARTTLS.' },
    requireTLS: { type: 'boolean', description: 'Refuse a server that does not offer STARTTLS (default true; false only for a local relay).' },
    user: { type: 'string' },
    password: { type: 'string' },
    maxConnections: { type: 'integer', minimum: 1, description: 'Pooled connections at once (default 5).' },
    maxMessages: { type: 'integer', minimum: 1, description: 'Messages per connection before it is replaced (default 100).' },
    tlsRejectUnauthorized: { type: 'boolean', description: "Check the server's certificate (default true)." },
    ca: { type: 'string', description: 'Extra trusted CA certificate (PEM), e.g. a private relay.' },
    ...SENDER_PROPERTIES,
  }, ['host']),
  secrets: SECRETS,
  create(name, config): SmtpProvider {
    const s = new Settings('smtp', name, config, { baseUrl: '', secrets: SECRETS });
    const host = s.str('host');
    const secure = s.bool('secure', false);
    const port = Number(s.opt('port') ?? (secure ? 465 : 587));
    const user = s.opt('user');
    const password = s.opt('password');
    if (user && !password) throw new TypeError(`${s.label}: config field "password" is required with "user"`);
    const from = configuredSender(s);
    const ca = s.opt('ca');
    const options = {
      pool: true as const,
      host,
      port,
      secure,
      requireTLS: !secure && s.bool('requireTLS', true),
      ignoreTLS: false,
      auth: user ? { user, pass: password! } : undefined,
      maxConnections: Number(s.opt('maxConnections') ?? 5),
      maxMessages: Number(s.opt('maxMessages') ?? 100),
      connectionTimeout: s.timeoutMs,
      greetingTimeout: s.timeoutMs,
      socketTimeout: Math.max(s.timeoutMs, 30_000),
      // Idle pooled connections are closed after a while rather than held for the default 4 minutes.
      idleTimeout: 30_000,
      tls: { rejectUnauthorized: s.bool('tlsRejectUnauthorized', true), ...(ca ? { ca } : {}) },
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    let transport: ReturnType<typeof nodemailer.createTransport> | null = null;
    return {
      name,
      type: 'smtp',
      async send(m) {
        try {
          transport ??= nodemailer.createTransport(options);
          const sender = senderOf(m, from, s);
          const envelope = m.envelope ? { envelope: { from: sender.address, to: m.envelope } } : {};
          const info = await transport.sendMail({ ...mailOptions(m, sender), ...envelope });
          const rejected = (info.rejected ?? []).map(String);
          const refused = refusedOf((info as { rejectedErrors?: RejectedRcpt[] }).rejectedErrors);
          const ses = SES_REPLY.exec(String(info.response ?? '').trim());
          return {
            messageId: ses ? ses[1]! : String(info.messageId),
            status: 'sent',
            raw: { messageId: info.messageId, response: info.response, accepted: (info.accepted ?? []).map(String), ...(rejected.length ? { rejected } : {}) },
            ...(refused.length ? { refused } : {}),
          };
        } catch (err) {
          throw scrubError(classify(err, s.label), s.secretValues);
        }
      },
      close() {
        transport?.close();
        transport = null;
      },
    };
  },
};
