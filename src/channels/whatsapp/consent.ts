// WhatsApp consent per number, kept in the store's SharedState so every process agrees: the API
// that records an opt-in or opt-out (/update_consent/) and every worker that checks it at send time.
//   consent:whatsapp:<E.164>  → ConsentEntry
// Numbers are keyed in E.164 (libphonenumber-js), so "9876543210" + 91, "+91 98765 43210" and
// "09876543210" + 91 are one contact. A store without SharedState keeps consent in this process's
// memory (one process only): both built-in stores have it.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { SharedState, Store } from '../../core/store.js';

/** Consent does not expire by itself: SharedState wants a life, so a century. */
export const CONSENT_TTL_MS = 100 * 365 * 24 * 3600_000;

export interface ConsentEntry {
  /** E.164 with its +. */
  contact: string;
  countryCode: string;
  nationalNumber: string;
  consent: boolean;
  updatedAt: number;
  /** Where it was recorded (e.g. `update_consent`, `api`). */
  source?: string;
}

const digits = (v: string | number) => String(v).replace(/[\s().-]/g, '');

/** A contact in E.164 (+ and digits): through libphonenumber-js when the number is valid, else + code + digits as given. */
export function consentNumber(contact: string | number, countryCode?: string | number): { e164: string; countryCode: string; nationalNumber: string } {
  const c = digits(contact);
  const cc = countryCode === undefined || countryCode === null ? '' : digits(countryCode).replace(/^\+/, '');
  let parsed: ReturnType<typeof parsePhoneNumberFromString>;
  try {
    parsed = c.startsWith('+') ? parsePhoneNumberFromString(c) : cc ? parsePhoneNumberFromString(c, { defaultCallingCode: cc }) : parsePhoneNumberFromString(`+${c}`);
  } catch {
    parsed = undefined; // a calling code no country has (e.g. 0): kept as given, like any number that is not valid
  }
  if (parsed?.isValid()) return { e164: parsed.number, countryCode: parsed.countryCallingCode, nationalNumber: parsed.nationalNumber };
  const bare = c.replace(/^\+/, '');
  if (c.startsWith('+') || !cc) return { e164: `+${bare}`, countryCode: cc, nationalNumber: bare };
  return { e164: `+${cc}${bare}`, countryCode: cc, nationalNumber: bare };
}

const key = (e164: string) => `consent:whatsapp:${e164}`;

/** A SharedState that lives in this process only, for stores without one. */
class MemoryShared implements Pick<SharedState, 'put' | 'get'> {
  private m = new Map<string, string>();
  async put(k: string, v: unknown): Promise<void> {
    this.m.set(k, JSON.stringify(v));
  }
  async get<T>(k: string): Promise<T | null> {
    const v = this.m.get(k);
    return v === undefined ? null : (JSON.parse(v) as T);
  }
}

export class ConsentBook {
  constructor(private readonly shared: Pick<SharedState, 'put' | 'get'>) {}

  async record(contact: string | number, countryCode: string | number | undefined, consent: boolean, now: number, source?: string): Promise<ConsentEntry> {
    const n = consentNumber(contact, countryCode);
    const entry: ConsentEntry = { contact: n.e164, countryCode: n.countryCode, nationalNumber: n.nationalNumber, consent, updatedAt: now, ...(source ? { source } : {}) };
    await this.shared.put(key(n.e164), entry, CONSENT_TTL_MS, now);
    return entry;
  }

  /** What was last recorded for a number (any form consentNumber reads), or null when nothing ever was. */
  async lookup(contact: string | number, countryCode: string | number | undefined, now: number): Promise<ConsentEntry | null> {
    return this.shared.get<ConsentEntry>(key(consentNumber(contact, countryCode).e164), now);
  }
}

const books = new WeakMap<Store, ConsentBook>();

/** The consent book of a store (one per store object, so a store without SharedState shares its memory within the process). */
export function consentBook(store: Store): ConsentBook {
  let b = books.get(store);
  if (!b) books.set(store, (b = new ConsentBook(store.shared ?? new MemoryShared())));
  return b;
}
