// WhatsApp consent per number, kept in the store's SharedState so every process agrees: the API
// that records an opt-in or opt-out (/update_consent/) and every worker that checks it at send time.
//   consent:whatsapp:<E.164>  → ConsentEntry
//   consent:whatsapp:index    → { <E.164>: n } (a tally: adding a field is atomic on every store, so
//                               concurrent recorders never lose one), what the list reads
// Numbers are keyed in E.164 (libphonenumber-js), so "9876543210" + 91, "+91 98765 43210" and
// "09876543210" + 91 are one contact. A store without SharedState keeps consent in this process's
// memory (one process only): both built-in stores have it.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { SharedState, Store } from '../../core/store.js';
import type { WhatsAppConfig } from '../config-types.js';

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

/**
 * Which numbers may be messaged. By default only a recorded opt-out stops a message: the original
 * worker sent to any number, so a client that never called /update_consent/ must not see every
 * message fail. `requireConsent: true` messages only numbers with a recorded opt-in.
 */
export function consentRule(config: WhatsAppConfig | undefined): { requireConsent: boolean; text: string } {
  const requireConsent = config?.requireConsent === true;
  return {
    requireConsent,
    text: requireConsent
      ? 'whatsapp consent: only numbers with a recorded opt-in are messaged (channels.whatsapp.requireConsent is on)'
      : 'whatsapp consent: numbers with a recorded opt-out are refused, others are messaged (channels.whatsapp.requireConsent: true requires an opt-in)',
  };
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
const INDEX = 'consent:whatsapp:index';

/** A SharedState that lives in this process only, for stores without one. */
class MemoryShared implements Pick<SharedState, 'put' | 'get' | 'tally' | 'tallies'> {
  private m = new Map<string, string>();
  private counters = new Map<string, Record<string, number>>();
  async tally(k: string, add: Record<string, number>): Promise<void> {
    const cur = this.counters.get(k) ?? {};
    for (const [f, n] of Object.entries(add)) cur[f] = (cur[f] ?? 0) + n;
    this.counters.set(k, cur);
  }
  async tallies(keys: string[]): Promise<(Record<string, number> | null)[]> {
    return keys.map((k) => this.counters.get(k) ?? null);
  }
  async put(k: string, v: unknown): Promise<void> {
    this.m.set(k, JSON.stringify(v));
  }
  async get<T>(k: string): Promise<T | null> {
    const v = this.m.get(k);
    return v === undefined ? null : (JSON.parse(v) as T);
  }
}

export class ConsentBook {
  constructor(private readonly shared: Pick<SharedState, 'put' | 'get' | 'tally' | 'tallies'>) {}

  async record(contact: string | number, countryCode: string | number | undefined, consent: boolean, now: number, source?: string): Promise<ConsentEntry> {
    const n = consentNumber(contact, countryCode);
    const entry: ConsentEntry = { contact: n.e164, countryCode: n.countryCode, nationalNumber: n.nationalNumber, consent, updatedAt: now, ...(source ? { source } : {}) };
    await this.shared.put(key(n.e164), entry, CONSENT_TTL_MS, now);
    await this.shared.tally?.(INDEX, { [n.e164]: 1 }, CONSENT_TTL_MS, now);
    return entry;
  }

  /** Every number with a recorded consent, in E.164 order, a page at a time (after: the last number of the page before). */
  async list(now: number, limit: number, after?: string): Promise<{ items: ConsentEntry[]; next: string | null }> {
    const [index] = (await this.shared.tallies?.([INDEX], now)) ?? [null];
    const numbers = Object.keys(index ?? {}).sort().filter((c) => after === undefined || c > after);
    const page = numbers.slice(0, limit);
    const items = (await Promise.all(page.map((c) => this.shared.get<ConsentEntry>(key(c), now)))).filter((e): e is ConsentEntry => e !== null);
    return { items, next: numbers.length > limit ? page[page.length - 1]! : null };
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
