// WhatsApp consent per number, kept in the store's SharedState so every process agrees: the API
// that records an opt-in or opt-out (/update_consent/) and every worker that checks it at send time.
//   consent:whatsapp:<E.164>  → ConsentEntry
//   consent:whatsapp:numbers  → a SharedState set (addMembers: a row / sorted-set member per number,
//                               atomic per number, O(1) in the number of contacts), what the list
//                               pages through in E.164 order without reading the rest
//   consent:whatsapp:index    → { <E.164>: n }, the index before the set: one value holding every
//                               number, rewritten whole on each record on SQLite and PostgreSQL.
//                               No longer written; its numbers are copied into the set once (the
//                               first listing of a process that finds consent:whatsapp:index-moved
//                               absent), so opt-outs recorded before the upgrade stay listed.
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
const NUMBERS = 'consent:whatsapp:numbers';
/** The index of earlier versions (a tally), read once to move its numbers into NUMBERS. */
export const LEGACY_INDEX = 'consent:whatsapp:index';
const MOVED = 'consent:whatsapp:index-moved';
const MOVE_BATCH = 1000;

type ConsentShared = Pick<SharedState, 'put' | 'get' | 'tally' | 'tallies' | 'addMembers' | 'members'>;

/** A SharedState that lives in this process only, for stores without one. */
class MemoryShared implements ConsentShared {
  private m = new Map<string, string>();
  private sets = new Map<string, Set<string>>();
  async addMembers(set: string, members: string[]): Promise<void> {
    const s = this.sets.get(set) ?? new Set<string>();
    for (const m of members) s.add(m);
    this.sets.set(set, s);
  }
  async members(set: string, limit: number, after?: string): Promise<string[]> {
    return [...(this.sets.get(set) ?? [])].sort().filter((m) => after === undefined || m > after).slice(0, limit);
  }
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
  private moved: Promise<void> | null = null;

  constructor(private readonly shared: ConsentShared) {}

  async record(contact: string | number, countryCode: string | number | undefined, consent: boolean, now: number, source?: string): Promise<ConsentEntry> {
    const n = consentNumber(contact, countryCode);
    const entry: ConsentEntry = { contact: n.e164, countryCode: n.countryCode, nationalNumber: n.nationalNumber, consent, updatedAt: now, ...(source ? { source } : {}) };
    await this.shared.put(key(n.e164), entry, CONSENT_TTL_MS, now);
    if (this.shared.addMembers) await this.shared.addMembers(NUMBERS, [n.e164]);
    else await this.shared.tally?.(LEGACY_INDEX, { [n.e164]: 1 }, CONSENT_TTL_MS, now); // a store without sets: the one-value index
    return entry;
  }

  /** Every number with a recorded consent, in E.164 order, a page at a time (after: the last number of the page before). */
  async list(now: number, limit: number, after?: string): Promise<{ items: ConsentEntry[]; next: string | null }> {
    let numbers: string[];
    if (this.shared.addMembers && this.shared.members) {
      await this.moveLegacyIndex(now);
      numbers = await this.shared.members(NUMBERS, limit + 1, after);
    } else {
      const [index] = (await this.shared.tallies?.([LEGACY_INDEX], now)) ?? [null];
      numbers = Object.keys(index ?? {}).sort().filter((c) => after === undefined || c > after);
    }
    const page = numbers.slice(0, limit);
    const items = (await Promise.all(page.map((c) => this.shared.get<ConsentEntry>(key(c), now)))).filter((e): e is ConsentEntry => e !== null);
    return { items, next: numbers.length > limit ? page[page.length - 1]! : null };
  }

  /**
   * Copy the numbers of the old one-value index (written before the set) into the set, once per
   * store: a marker records that it was done, so later processes read only the marker. Adding a
   * member twice is one member, so processes moving at once agree. The old value is left in place.
   */
  private moveLegacyIndex(now: number): Promise<void> {
    this.moved ??= (async () => {
      if (!this.shared.tallies || (await this.shared.get(MOVED, now)) !== null) return;
      const [index] = await this.shared.tallies([LEGACY_INDEX], now);
      const numbers = Object.keys(index ?? {});
      for (let i = 0; i < numbers.length; i += MOVE_BATCH) await this.shared.addMembers!(NUMBERS, numbers.slice(i, i + MOVE_BATCH));
      await this.shared.put(MOVED, { numbers: numbers.length, at: now }, CONSENT_TTL_MS, now);
    })().catch((err: unknown) => {
      this.moved = null; // tried again on the next listing
      throw err;
    });
    return this.moved;
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
