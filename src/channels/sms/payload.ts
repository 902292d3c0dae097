// The sms task's payload: the original Fusion worker's form (`contact`, `countryCode`, `message`,
// `senderId`, `config.provider`, `isOTP`, `context`, `flowAuth`, `callback_url`, ...) or the native
// form (`to` in E.164, `text`, `from`, `otp`, `provider`, `callbackUrl`), checked at enqueue and
// normalised once into SmsMessage.
// Numbers are parsed and validated with libphonenumber-js's full metadata: a number that cannot
// exist is refused at the door, not by a provider three retries later.
import { Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { isValidNumber } from './phone-valid.js';
import { FusionError } from '../../core/errors.js';
import { payloadUrl } from '../http/payload-url.js';
import type { SmsMessage } from './message.js';
import { isPlainObject } from '../../core/plain-object.js';

const MAX_TEXT = 10_000;
const MAX_SENDER = 32;

/** Field names that hold a credential: a payload must not carry one unless its provider allows it. */
const CREDENTIAL = /^(api[_-]?key|apikey|auth[_-]?key|authkey|auth[_-]?token|access[_-]?key|access[_-]?token|secret|client[_-]?secret|secret[_-]?key|password|passwd|token|private[_-]?key)$/i;

export interface ParsedSms {
  message: SmsMessage;
  /** The provider the payload asks for (`config.provider` or `provider`), if any. */
  provider?: string;
  /** The payload came in the original worker's form. */
  original: boolean;
  /** Told of the accepted send (`callback_url`, or the native `callbackUrl`). */
  callbackUrl?: string;
}

const bad = (field: string, message: string) => new FusionError('invalid_payload', message, { field });

// The checks below take the field's value, read by the caller with its name written out: a read
// by a name held in a variable (p[field]) is a megamorphic keyed load in V8, ~140 instructions
// each, six per payload; a named read of a JSON.parse'd payload is a few.
function optString(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(field, `${field} must be a string`);
  if (v.length > max) throw bad(field, `${field} must be at most ${max} characters`);
  return v;
}

function flag(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string' && /^(true|false|1|0)$/i.test(v)) return /^(true|1)$/i.test(v);
  throw bad(field, `${field} must be a boolean`);
}

/** What the digits path needs of a calling code: its one country and its national-prefix test. */
interface DigitsPlan {
  country: string;
  /** `^(?:national prefix for parsing)`, compiled once; null when the plan has none. */
  nationalPrefix: RegExp | null;
}
type PlanMeta = {
  hasCallingCode(cc: string): boolean | undefined;
  isNonGeographicCallingCode(cc: string): boolean;
  getCountryCodesForCallingCode(cc: string): string[] | undefined;
  selectNumberingPlan(k: string): void;
  numberingPlan: { nationalPrefixForParsing(): string | undefined };
};
// Keyed by calling code (a few hundred at most); null: the library's own parse decides.
const digitsPlans = new Map<string, DigitsPlan | null>();

function digitsPlanOf(cc: string): DigitsPlan | null {
  let plan = digitsPlans.get(cc);
  if (plan === undefined) {
    plan = null;
    const m = new (Metadata as unknown as new () => PlanMeta)();
    const countries = m.hasCallingCode(cc) && !m.isNonGeographicCallingCode(cc) ? m.getCountryCodesForCallingCode(cc) : undefined;
    // Several countries share the code (+1, +7, +44, ...): which one depends on the digits.
    if (countries && countries.length === 1) {
      m.selectNumberingPlan(cc);
      const prefix = m.numberingPlan.nationalPrefixForParsing();
      plan = { country: countries[0]!, nationalPrefix: prefix ? new RegExp(`^(?:${prefix})`) : null };
    }
    digitsPlans.set(cc, plan);
  }
  return plan;
}

/**
 * The usual recipients: national digits with a calling code (the original worker's `contact` and
 * `countryCode`), or `+` and digits (the native `to`). When the calling code has one country and
 * the national digits start neither with the calling code (the library then tries them as an
 * international number without +) nor with the plan's national prefix (it then strips it, with its
 * own rules), the library's parse comes down to: national number = the digits, country = the code's
 * one country. This gives that answer without the parse's generic steps (option-object spreads,
 * digit normalisation, a regex compiled per call): ~2 µs of the SMS payload check on every
 * POST /v1/jobs. Anything else goes through the library; tests/channels/sms-phone-valid.test.ts
 * compares the two across every calling code.
 */
function plainCountry(national: string, cc: string, source: 'FROM_NUMBER_WITH_PLUS_SIGN' | undefined): string | undefined {
  // 2-17 ASCII digits: the library's national-number length bounds (MIN/MAX_LENGTH_FOR_NSN).
  if (national.length < 2 || national.length > 17 || !ALL_DIGITS.test(national)) return undefined;
  if (source === undefined && national.startsWith(cc)) return undefined;
  const plan = digitsPlanOf(cc);
  if (plan === null || plan.nationalPrefix?.test(national)) return undefined;
  return plan.country;
}
const ALL_DIGITS = /^[0-9]+$/;
const codes = new (Metadata as unknown as new () => PlanMeta)();

/**
 * What a recipient check needs of a number, and what the channels keep of it: a PhoneNumber's
 * fields of those names (a PhoneNumber is one).
 */
export interface Recipient {
  readonly number: string;
  readonly country?: string;
  readonly countryCallingCode: string;
  readonly nationalNumber: string;
}

/**
 * plainCountry's number as a record of PhoneNumber's fields: what the payload check needs, without
 * the PhoneNumber the library builds (its constructor checks its arguments and the metadata, and
 * looks the country's calling code up again: ~2,000 instructions of each POST /v1/jobs with task sms).
 * The calling code is the country's own: plainCountry answers only for a code with one country.
 */
function plainRecipient(national: string, cc: string, source: 'FROM_NUMBER_WITH_PLUS_SIGN' | undefined): Recipient | undefined {
  const country = plainCountry(national, cc, source);
  return country === undefined ? undefined : { number: `+${cc}${national}`, country, countryCallingCode: cc, nationalNumber: national };
}

/** `+` and digits: where the calling code ends, the first 1-3 digits that are one (calling codes are prefix-free); 0 for none. */
function plusCodeEnd(raw: string): number {
  if (raw.charCodeAt(0) !== 43 /* + */ || raw.charCodeAt(1) === 48 /* 0 */) return 0;
  for (let i = 2; i <= 4 && i < raw.length; i++) if (codes.hasCallingCode(raw.slice(1, i))) return i;
  return 0;
}

/**
 * The number as libphonenumber-js's parsePhoneNumberFromString reads it (its fields), or undefined
 * when it cannot: a record of the fields where the plain path reads it, else the library's number.
 */
export function parseRecipientNumber(raw: string, callingCode?: string): Recipient | undefined {
  if (!callingCode) {
    const end = plusCodeEnd(raw);
    return (end > 0 ? plainRecipient(raw.slice(end), raw.slice(1, end), 'FROM_NUMBER_WITH_PLUS_SIGN') : undefined) ?? parsePhoneNumberFromString(raw);
  }
  return plainRecipient(raw, callingCode, undefined) ?? parsePhoneNumberFromString(raw, { defaultCallingCode: callingCode });
}

/** The number as libphonenumber-js sees it; throws naming `field` when it is not a possible, valid number. */
function phone(raw: string, field: string, callingCode?: string): Recipient {
  const parsed = parseRecipientNumber(raw, callingCode);
  if (!parsed || !isValidNumber(parsed)) {
    throw bad(field, `${field} is not a valid phone number${callingCode ? ` for calling code +${callingCode}` : ''}`);
  }
  return parsed;
}

/**
 * The recipient of a phone-number channel (sms, whatsapp): the native `to` in E.164, or the original
 * worker's `contact` (digits, or +digits) with `countryCode`. Throws FusionError naming the field.
 */
export function parseRecipient(p: Record<string, unknown>, original: boolean): Recipient {
  let number: Recipient;
  if (!original) {
    if (p.to === undefined || p.to === null || p.to === '') throw bad('to', 'to is required: a number in E.164 form, e.g. +919876543210');
    if (typeof p.to !== 'string') throw bad('to', 'to must be a string in E.164 form, e.g. +919876543210');
    if (!/^\+\d[\d\s().-]{3,24}$/.test(p.to.trim())) throw bad('to', 'to must be in E.164 form: + and the country calling code, e.g. +919876543210');
    number = phone(p.to.trim(), 'to');
  } else {
    const c = p.contact;
    if (c === undefined || c === null || c === '') throw bad('contact', 'contact is required');
    let contact: string;
    if (typeof c === 'number') {
      if (!Number.isSafeInteger(c) || c <= 0) throw bad('contact', 'contact must be a whole number or a string of digits');
      contact = String(c);
    } else if (typeof c === 'string') {
      contact = c.trim();
      if (!/^\+?[\d\s().-]{3,24}$/.test(contact)) throw bad('contact', 'contact must be digits (spaces, dashes and brackets allowed)');
    } else {
      throw bad('contact', 'contact must be a number or a string');
    }
    const cc = p.countryCode;
    let callingCode: string | undefined;
    if (cc !== undefined && cc !== null && cc !== '') {
      if (typeof cc === 'number' && Number.isInteger(cc) && cc > 0 && cc < 10_000) callingCode = String(cc);
      else if (typeof cc === 'string' && /^\s*\+?\d{1,4}\s*$/.test(cc)) callingCode = cc.trim().replace(/^\+/, '');
      else throw bad('countryCode', 'countryCode must be a calling code: 91, "91" or "+91"');
    }
    if (contact.startsWith('+')) number = phone(contact, 'contact');
    else if (!callingCode) throw bad('countryCode', 'countryCode is required when contact has no + prefix');
    else number = phone(contact, 'contact', callingCode);
    if (callingCode && number.countryCallingCode !== callingCode) {
      throw bad('contact', `contact is a +${number.countryCallingCode} number, not a +${callingCode} one`);
    }
  }

  return number;
}

/** Parse and check a payload. Throws FusionError (code invalid_payload, details.field relative to the payload). */
export function parseSmsPayload(payload: unknown): ParsedSms {
  if (!isPlainObject(payload)) throw bad('', 'an sms payload must be an object');
  const p = payload;
  const original = p.to === undefined && (p.contact !== undefined || p.message !== undefined);
  const number = parseRecipient(p, original);

  const inMessage = original || (p.text === undefined && p.message !== undefined);
  const textField = inMessage ? 'message' : 'text';
  const text = optString(inMessage ? p.message : p.text, textField, MAX_TEXT);
  const templateId = optString(p.templateId, 'templateId', 200);
  const flowAuth = p.flowAuth ?? undefined;
  if ((text === undefined || text === '') && flowAuth === undefined && templateId === undefined) {
    throw bad(textField, `${textField} is required (or a flowAuth/templateId for a provider-side template)`);
  }
  const inFrom = p.from !== undefined;
  const senderId = optString(inFrom ? p.from : p.senderId, inFrom ? 'from' : 'senderId', MAX_SENDER);
  if (p.context !== undefined && p.context !== null && !isPlainObject(p.context)) throw bad('context', 'context must be an object');
  if (p.config !== undefined && p.config !== null && !isPlainObject(p.config)) throw bad('config', 'config must be an object');
  const config = (p.config ?? {}) as Record<string, unknown>;
  let provider: string | undefined;
  if (config.provider !== undefined && config.provider !== null) {
    if (typeof config.provider !== 'string' || !config.provider) throw bad('config.provider', 'config.provider must be a provider name');
    provider = config.provider;
  }
  if (p.provider !== undefined && p.provider !== null) {
    if (typeof p.provider !== 'string' || !p.provider) throw bad('provider', 'provider must be a provider name');
    provider = p.provider;
  }
  const otp = flag(p.otp, 'otp') ?? flag(p.isOTP, 'isOTP') ?? false;
  const statusCallbackUrl = optString(p.statusCallbackUrl, 'statusCallbackUrl', 2000);

  const message: SmsMessage = {
    to: number.number,
    callingCode: number.countryCallingCode,
    nationalNumber: number.nationalNumber,
    text: text ?? '',
    otp,
  };
  if (senderId) message.senderId = senderId;
  if (isPlainObject(p.context)) message.context = p.context;
  if (flowAuth !== undefined) message.flowAuth = flowAuth;
  if (templateId) message.templateId = templateId;
  if (statusCallbackUrl) message.statusCallbackUrl = statusCallbackUrl;
  const parsed: ParsedSms = { message, provider, original };
  const cb = p.callback_url ?? p.callbackUrl;
  if (cb !== undefined && cb !== null && cb !== '') parsed.callbackUrl = payloadUrl(cb, p.callback_url !== undefined ? 'callback_url' : 'callbackUrl');
  return parsed;
}

// Payloads reuse a handful of field names: the verdict per name is remembered (a regex test per
// field of every payload was ~0.7k instructions of each POST /v1/jobs). Bounded: a flood of
// distinct names only resets it, and a name longer than any CREDENTIAL matches (client_secret)
// is answered without it, so a 1 MB body's long names cannot fill it with megabytes.
const credentialVerdicts = new Map<string, boolean>();
const LONGEST_CREDENTIAL_NAME = 'client_secret'.length;
function isCredentialName(k: string): boolean {
  if (k.length > LONGEST_CREDENTIAL_NAME) return false;
  let r = credentialVerdicts.get(k);
  if (r === undefined) {
    r = CREDENTIAL.test(k);
    if (credentialVerdicts.size >= 10_000) credentialVerdicts.clear();
    credentialVerdicts.set(k, r);
  }
  return r;
}

const NONE: readonly string[] = Object.freeze([]);

/** Paths of credential-named fields in a payload or its `config` (e.g. `config.authkey`), in key order. */
export function payloadCredentials(payload: unknown): readonly string[] {
  if (!isPlainObject(payload)) return NONE;
  let found: string[] | null = null;
  for (const k of Object.keys(payload)) if (isCredentialName(k)) (found ??= []).push(k);
  if (isPlainObject(payload.config)) for (const k of Object.keys(payload.config)) if (isCredentialName(k)) (found ??= []).push(`config.${k}`);
  return found ?? NONE;
}

/** A number for logs: country code and last digits kept, the middle masked (+9198******10). */
export function maskNumber(e164: string): string {
  const digits = e164.replace(/^\+/, '');
  if (digits.length <= 6) return `+${digits.slice(0, 2)}${'*'.repeat(Math.max(0, digits.length - 2))}`;
  return `+${digits.slice(0, 4)}${'*'.repeat(digits.length - 6)}${digits.slice(-2)}`;
}

/** Every word holding a digit masked, its length kept: where an OTP's code is ("Your OTP is 4711", "code: AB12CD."). */
export const maskCodeWords = (text: string) => text.replace(/\S*\d\S*/g, (w) => '*'.repeat(w.length));

/**
 * A provider's raw answer to an OTP send with the text it echoes (Twilio's `body`) masked as the
 * logs mask it, as written and as a JSON string holds it; the rest of the answer is kept.
 */
export function withoutOtpText(answer: string, text: string): string {
  if (!/\d/.test(text)) return answer;
  let out = answer;
  for (const form of new Set([text, JSON.stringify(text).slice(1, -1)])) out = out.split(form).join(maskCodeWords(form));
  return out;
}

/** Text for logs: runs of 4+ digits (codes, OTPs) masked. */
export function maskText(text: string, max = 200): string {
  const t = text.replace(/\d{4,}/g, (m) => '*'.repeat(m.length));
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
