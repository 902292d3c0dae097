// The email task's payload: the original Fusion worker's form (`to`/`cc`/`bcc`, `subject`, `message`
// (HTML), `sender_name`, `config.config_fields` [{name, value}] with `sender_id_name`,
// `sender_id_email`, `reply_to`; `files` to attach; `template` + `is_template`; `callback_url`) or the
// native form (`from`, `replyTo`, `to`, `cc`, `bcc`, `subject`, `html`, `text`, `attachments`
// [{url, filename?}], `headers`). Checked at enqueue, normalised once into EmailMessage.
//
// Recipient lists take a list or a single string (commas and semicolons separate several). Invalid
// addresses are not refused here when at least one valid recipient is left: they are dropped at send
// and listed in the job's result, as blacklisted and suppressed ones are.
import { FusionError } from '../../core/errors.js';
import { canonical, isValidAddress } from './address.js';
import type { AttachmentRef, EmailAddress, EmailMessage } from './message.js';
import { payloadUrl } from '../http/payload-url.js';
import { isPlainObject } from '../../core/plain-object.js';

export const LIMITS = {
  /** Recipients over to, cc and bcc together (SES's own limit per message). */
  recipients: 50,
  subject: 998,
  /** HTML or text body, characters. */
  body: 5_000_000,
  attachments: 20,
  headers: 30,
  url: 2000,
} as const;

export interface ParsedEmail {
  message: EmailMessage;
  /** The payload came in the original worker's form. */
  original: boolean;
}

const bad = (field: string, message: string) => new FusionError('invalid_payload', message, { field });

const given = (v: unknown) => v !== undefined && v !== null;

function str(p: Record<string, unknown>, field: string, max: number, path = field): string | undefined {
  const v = p[field];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw bad(path, `${path} must be a string`);
  if (v.length > max) throw bad(path, `${path} must be at most ${max} characters`);
  return v;
}

function flag(p: Record<string, unknown>, field: string): boolean | undefined {
  const v = p[field];
  if (!given(v)) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string' && /^(true|false|1|0)$/i.test(v)) return /^(true|1)$/i.test(v);
  throw bad(field, `${field} must be a boolean`);
}

const noBreaks = (v: string, field: string) => {
  if (/[\r\n]/.test(v)) throw bad(field, `${field} must not contain line breaks`);
  return v;
};

/** A recipient list: a list of strings or one string (comma- or semicolon-separated). */
function addressList(p: Record<string, unknown>, field: string): string[] {
  const v = p[field];
  if (!given(v) || v === '') return [];
  const items = typeof v === 'string' ? v.split(/[,;]/) : Array.isArray(v) ? v : null;
  if (!items) throw bad(field, `${field} must be an email address or a list of them`);
  const out: string[] = [];
  items.forEach((item, i) => {
    if (typeof item !== 'string') throw bad(Array.isArray(v) ? `${field}.${i}` : field, `${field} must hold strings`);
    const a = item.trim();
    if (a) out.push(noBreaks(canonical(a), field));
  });
  return out;
}

/** `from` as "Name <address>", a bare address, or {name, address}. */
function sender(v: unknown, field: string): EmailAddress {
  let name: string | undefined;
  let address: string;
  if (isPlainObject(v)) {
    if (typeof v.address !== 'string') throw bad(`${field}.address`, `${field}.address must be an email address`);
    if (given(v.name) && typeof v.name !== 'string') throw bad(`${field}.name`, `${field}.name must be a string`);
    address = v.address.trim();
    name = (v.name as string | undefined)?.trim() || undefined;
  } else if (typeof v === 'string') {
    const m = /^\s*(?:"?([^"<]*?)"?\s*)?<([^>]+)>\s*$/.exec(v);
    address = (m ? m[2]! : v).trim();
    name = m?.[1]?.trim() || undefined;
  } else {
    throw bad(field, `${field} must be an email address, "Name <address>", or {name, address}`);
  }
  if (!isValidAddress(address)) throw bad(field, `${field} is not a valid email address`);
  if (name !== undefined) noBreaks(name, field);
  return name ? { name, address: canonical(address) } : { address: canonical(address) };
}

const urlOf = (v: unknown, field: string) => payloadUrl(v, field, LIMITS.url);

function attachmentList(p: Record<string, unknown>, field: string): AttachmentRef[] {
  const v = p[field];
  if (!given(v)) return [];
  const items = typeof v === 'string' ? [v] : Array.isArray(v) ? v : null;
  if (!items) throw bad(field, `${field} must be a list of URLs`);
  if (items.length > LIMITS.attachments) throw bad(field, `${field} may hold at most ${LIMITS.attachments} files`);
  return items.map((item, i) => {
    const f = `${field}.${i}`;
    if (typeof item === 'string') return { url: urlOf(item, f) };
    if (!isPlainObject(item)) throw bad(f, `${f} must be a URL or {url, filename}`);
    const ref: AttachmentRef = { url: urlOf(item.url, `${f}.url`) };
    const name = str(item, 'filename', 255, `${f}.filename`);
    if (name) ref.filename = noBreaks(name, `${f}.filename`);
    return ref;
  });
}

function headerMap(p: Record<string, unknown>): Record<string, string> {
  const v = p.headers;
  if (!given(v)) return {};
  if (!isPlainObject(v)) throw bad('headers', 'headers must be an object of header name → value');
  const entries = Object.entries(v);
  if (entries.length > LIMITS.headers) throw bad('headers', `headers may hold at most ${LIMITS.headers} entries`);
  const out: Record<string, string> = {};
  for (const [k, val] of entries) {
    if (!/^[A-Za-z0-9-]{1,76}$/.test(k)) throw bad(`headers.${k}`, `header name "${k}" must be letters, digits and dashes`);
    if (/^(from|to|cc|bcc|subject|date|message-id|mime-version|content-type|content-transfer-encoding|reply-to)$/i.test(k)) {
      throw bad(`headers.${k}`, `header ${k} is set from its own field, not headers`);
    }
    if (typeof val !== 'string' && typeof val !== 'number') throw bad(`headers.${k}`, `header ${k} must be a string`);
    out[k] = noBreaks(String(val), `headers.${k}`).slice(0, 2000);
  }
  return out;
}

/** `config.config_fields` of the original form: [{name, value}] → map. */
function configFields(p: Record<string, unknown>): Record<string, string> {
  if (!given(p.config)) return {};
  if (!isPlainObject(p.config)) throw bad('config', 'config must be an object');
  const list = p.config.config_fields;
  if (!given(list)) return {};
  if (!Array.isArray(list)) throw bad('config.config_fields', 'config.config_fields must be a list of {name, value}');
  const out: Record<string, string> = {};
  list.forEach((f, i) => {
    if (!isPlainObject(f) || typeof f.name !== 'string') throw bad(`config.config_fields.${i}`, `config.config_fields.${i} must be {name, value}`);
    if (given(f.value) && typeof f.value !== 'string') throw bad(`config.config_fields.${i}.value`, `config.config_fields.${i}.value must be a string`);
    if (typeof f.value === 'string' && f.value.trim()) out[f.name] = f.value.trim();
  });
  return out;
}

/** Parse and check a payload. Throws FusionError (code invalid_payload, details.field relative to the payload). */
export function parseEmailPayload(payload: unknown): ParsedEmail {
  if (!isPlainObject(payload)) throw bad('', 'an email payload must be an object');
  const p = payload;
  const original = !given(p.html) && !given(p.text) && !given(p.attachments) &&
    (given(p.message) || given(p.files) || given(p.template) || given(p.sender_name) || given(p.config) || given(p.callback_url));

  const to = addressList(p, 'to');
  const cc = addressList(p, 'cc');
  const bcc = addressList(p, 'bcc');
  if (to.length + cc.length + bcc.length === 0) throw bad('to', 'to is required: an email address or a list of them');
  if (to.length + cc.length + bcc.length > LIMITS.recipients) throw bad('to', `at most ${LIMITS.recipients} recipients over to, cc and bcc together`);
  if (![...to, ...cc, ...bcc].some(isValidAddress)) {
    throw bad(to.length ? 'to' : cc.length ? 'cc' : 'bcc', 'no recipient is a valid email address');
  }

  const subject = noBreaks(str(p, 'subject', LIMITS.subject) ?? '', 'subject');
  const fields = configFields(p);
  let html: string | undefined;
  let text: string | undefined;
  let from: EmailAddress | undefined;
  let replyTo: string[] = [];
  let attachments: AttachmentRef[];
  if (original) {
    const template = str(p, 'template', LIMITS.body);
    const useTemplate = flag(p, 'is_template') ?? false;
    html = useTemplate && template ? template : str(p, 'message', LIMITS.body);
    const address = fields.sender_id_email;
    const name = fields.sender_id_name ?? str(p, 'sender_name', 200);
    if (address) from = sender(name ? { name, address } : address, 'config.config_fields.sender_id_email');
    if (fields.reply_to) replyTo = addressList({ reply_to: fields.reply_to }, 'reply_to');
    attachments = attachmentList(p, 'files');
  } else {
    html = str(p, 'html', LIMITS.body) ?? str(p, 'message', LIMITS.body);
    text = str(p, 'text', LIMITS.body);
    if (given(p.from)) from = sender(p.from, 'from');
    replyTo = addressList(p, 'replyTo');
    attachments = attachmentList(p, 'attachments');
  }
  for (const [i, a] of replyTo.entries()) if (!isValidAddress(a)) throw bad(original ? 'config.config_fields' : `replyTo`, `reply-to address ${i + 1} is not a valid email address`);
  if (!subject && !html && !text) throw bad('subject', 'a mail needs a subject or a body (message/html/text)');

  const message: EmailMessage = {
    replyTo, to, cc, bcc, subject, attachments,
    headers: headerMap(p),
    deleteFilesAfterSend: flag(p, 'deleteFilesAfterSend') ?? flag(p, 'delete_files') ?? false,
  };
  if (from) message.from = from;
  if (html) message.html = html;
  if (text) message.text = text;
  const cb = p.callback_url ?? p.callbackUrl;
  if (given(cb) && cb !== '') message.callbackUrl = urlOf(cb, p.callback_url !== undefined ? 'callback_url' : 'callbackUrl');
  const provider = isPlainObject(p.config) && given(p.config.provider) ? p.config.provider : p.provider;
  if (given(provider)) {
    if (typeof provider !== 'string' || !provider) throw bad('provider', 'provider must be a provider name');
    message.provider = provider;
  }
  return { message, original };
}
