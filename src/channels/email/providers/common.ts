// What every email adapter does alike: read its config (through the SMS adapters' Settings, which
// says what is missing), pick the sender (the message's, else the configured `from`), and for the
// HTTP APIs send one request through the guard with failures classified by status (5xx, 408, 429
// retryable) and credentials scrubbed from every error and result.
import { ProviderError, type Provider, type ProviderContext, type SendResult } from '../../provider.js';
import { httpFailure, httpSend, type HttpAnswer } from '../../http/answer.js';
import { scrub, scrubError, Settings, type ProviderRequest } from '../../sms/providers/common.js';
import { isValidAddress } from '../address.js';
import type { EmailAddress, OutgoingEmail } from '../message.js';

export { schema, Settings, answerError, sent, text, JSON_TYPE } from '../../sms/providers/common.js';

/** The config fields every email adapter takes besides its own. */
export const SENDER_PROPERTIES = {
  from: { type: 'string', description: 'Default sender, "Name <address>" or an address, used when the payload names none.' },
} as const;

/** "Name <address>" or a bare address, from config. */
export function parseAddress(raw: string): EmailAddress | null {
  const m = /^\s*(?:"?([^"<]*?)"?\s*)?<([^>]+)>\s*$/.exec(raw);
  const address = (m ? m[2]! : raw).trim();
  if (!isValidAddress(address)) return null;
  const name = m?.[1]?.trim();
  return name ? { name, address } : { address };
}

/** The configured default sender, checked once at create. */
export function configuredSender(s: Settings): EmailAddress | undefined {
  const raw = s.opt('from');
  if (raw === undefined) return undefined;
  const a = parseAddress(raw);
  if (!a) throw new TypeError(`${s.label}: config field "from" is not an email address`);
  return a;
}

/** The lists a send goes to: the mail's, narrowed to its envelope when an earlier send took the rest. */
export function sendLists(m: OutgoingEmail): { to: string[]; cc: string[]; bcc: string[] } {
  if (!m.envelope) return m;
  const left = new Set(m.envelope);
  const keep = (xs: string[]) => xs.filter((a) => left.has(a));
  return { to: keep(m.to), cc: keep(m.cc), bcc: keep(m.bcc) };
}

/** The sender of one message: its own, else the configured one; neither is a mistake no retry fixes. */
export function senderOf(m: OutgoingEmail, fallback: EmailAddress | undefined, s: Settings): EmailAddress {
  const from = m.from ?? fallback;
  if (!from) throw new ProviderError(`${s.label}: the mail has no sender: give one in the payload (from / config.config_fields sender_id_email) or set "from" in the provider's config (no_sender)`, { code: 'no_sender', retryable: false });
  return from;
}

export interface EmailExchange {
  request(m: OutgoingEmail, from: EmailAddress, ctx: ProviderContext): ProviderRequest;
  /** The provider's own error code in a non-2xx answer. */
  errorCode?(answer: HttpAnswer): string | undefined;
  /** A 2xx answer: the result (with the provider's message id). */
  read(answer: HttpAnswer): SendResult;
}

/** An email provider that sends one HTTP request per mail (recipients in the body: an envelope narrows them). */
export function httpEmailProvider(s: Settings, from: EmailAddress | undefined, ex: EmailExchange): Provider<OutgoingEmail> {
  return {
    name: s.name,
    type: s.type,
    async send(m, ctx) {
      try {
        const req = ex.request({ ...m, ...sendLists(m) }, senderOf(m, from, s), ctx);
        const answer = await httpSend(req.url, { method: req.method ?? 'POST', headers: req.headers, body: req.body, timeoutMs: s.timeoutMs }, ctx, s.label);
        if (answer.status < 200 || answer.status >= 300) throw httpFailure(answer, s.label, ctx.now(), ex.errorCode?.(answer));
        const result = ex.read(answer);
        return { ...result, raw: scrub(result.raw ?? answer.json ?? answer.text, s.secretValues) };
      } catch (err) {
        throw scrubError(err, s.secretValues);
      }
    },
  };
}
