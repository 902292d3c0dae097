// WhatsApp consent per contact, behind a small interface. The authority is the store
// (StoreConsentStore, over SharedState: every worker checks it at send time); an append-only
// JSON-lines file or memory can be kept beside it as a journal (the CLI's --consent-file).
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Store } from '../core/store.js';
import { consentBook } from '../channels/whatsapp/consent.js';

export interface ConsentRecord {
  contact: string;
  countryCode: string;
  consent: boolean;
  updatedAt: number;
}

export interface ConsentStore {
  set(rec: ConsentRecord): Promise<ConsentRecord>;
  get(contact: string, countryCode: string): Promise<ConsentRecord | null>;
  close(): Promise<void>;
}

/** Contacts arrive as numbers or strings, with or without spaces, dashes or a leading +. */
export const normalizeContact = (v: string | number) => String(v).replace(/[\s().-]/g, '').replace(/^\+/, '');
const keyOf = (contact: string, cc: string) => `${normalizeContact(cc)}:${normalizeContact(contact)}`;

export class MemoryConsentStore implements ConsentStore {
  protected records = new Map<string, ConsentRecord>();
  async set(rec: ConsentRecord): Promise<ConsentRecord> {
    const r = { ...rec, contact: normalizeContact(rec.contact), countryCode: normalizeContact(rec.countryCode) };
    this.records.set(keyOf(r.contact, r.countryCode), r);
    return r;
  }
  async get(contact: string, countryCode: string): Promise<ConsentRecord | null> {
    return this.records.get(keyOf(contact, countryCode)) ?? null;
  }
  async close(): Promise<void> {}
}

/**
 * An append-only JSON-lines journal of consent changes (the CLI's --consent-file, `fusion server`'s
 * default) kept beside the store, which is the authority every route and worker reads. It holds
 * nothing in memory: read whole at start and mirrored in a map, it grew the API process with every
 * contact ever recorded (nothing read the map), and past V8's longest string (~512 MB of journal)
 * kept the server from starting. get() reads the file (for tools and tests).
 */
export class FileConsentStore implements ConsentStore {
  private file: Promise<FileHandle> | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  async set(rec: ConsentRecord): Promise<ConsentRecord> {
    const r = { ...rec, contact: normalizeContact(rec.contact), countryCode: normalizeContact(rec.countryCode) };
    const line = `${JSON.stringify(r)}\n`;
    // Writes are serialised and synced before the caller hears "ok", so an answered update survives a crash.
    const write = this.chain.then(async () => {
      this.file ??= (async () => {
        mkdirSync(dirname(this.path), { recursive: true });
        return open(this.path, 'a');
      })();
      const fh = await this.file;
      await fh.write(line);
      await fh.datasync();
    });
    this.chain = write.catch(() => undefined);
    await write;
    return r;
  }

  /** The last record of the contact in the journal, read line by line. */
  async get(contact: string, countryCode: string): Promise<ConsentRecord | null> {
    await this.chain;
    if (!existsSync(this.path)) return null;
    const want = keyOf(contact, countryCode);
    let found: ConsentRecord | null = null;
    for await (const line of createInterface({ input: createReadStream(this.path), crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as ConsentRecord;
        if (keyOf(r.contact, r.countryCode) === want) found = r;
      } catch {
        // A torn last line from a crash mid-write: the record before it still stands.
      }
    }
    return found;
  }

  async close(): Promise<void> {
    await this.chain;
    const f = this.file;
    this.file = null;
    if (f) await (await f).close();
  }
}

/**
 * Consent kept in the store (channels/whatsapp/consent.ts): what workers enforce at send time. The
 * API's default. A file or memory ConsentStore given to the server is kept as a journal beside it.
 */
export class StoreConsentStore implements ConsentStore {
  constructor(private readonly store: Store, private readonly now: () => number) {}
  async set(rec: ConsentRecord): Promise<ConsentRecord> {
    const e = await consentBook(this.store).record(rec.contact, rec.countryCode, rec.consent, rec.updatedAt, 'update_consent');
    return { contact: e.nationalNumber, countryCode: e.countryCode, consent: e.consent, updatedAt: e.updatedAt };
  }
  async get(contact: string, countryCode: string): Promise<ConsentRecord | null> {
    const e = await consentBook(this.store).lookup(contact, countryCode, this.now());
    return e && { contact: e.nationalNumber, countryCode: e.countryCode, consent: e.consent, updatedAt: e.updatedAt };
  }
  async close(): Promise<void> {}
}

/** Record a consent change: in the store (enforced by every worker), and in the server's own ConsentStore when it has another (a journal). */
export async function recordConsent(ctx: { store: Store; consent: ConsentStore; now(): number }, rec: ConsentRecord): Promise<ConsentRecord> {
  const stored = await new StoreConsentStore(ctx.store, () => ctx.now()).set(rec);
  if (!(ctx.consent instanceof StoreConsentStore)) await ctx.consent.set(rec);
  return stored;
}
