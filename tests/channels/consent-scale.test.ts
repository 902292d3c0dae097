// WhatsApp consent at scale: recording one more number must cost the same whatever the number of
// contacts already recorded, and a page of /v1/consents must not read every number. The index of
// recorded numbers used to be one SharedState value ({ <E.164>: n }) rewritten whole on each record
// on SQLite and PostgreSQL (and read whole, HGETALL, by every listing on Redis). Sizes and counts
// are asserted, never times. Real stores: a SQLite file, Redis on a prefix of its own, PostgreSQL
// on a schema of its own. Also: numbers in the old index of an existing store are still listed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { SharedState, Store } from '../../src/core/store.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { ConsentBook, consentBook } from '../../src/channels/whatsapp/consent.js';
import { PrefixedStores, REDIS_URL, redisSkip } from '../helpers/redis.js';
import { pgClient, pgHarness, pgSkip } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const skipRedis = await redisSkip();
const skipPg = await pgSkip();
const N = 3000;
const LEGACY_INDEX = 'consent:whatsapp:index';
const T0 = Date.UTC(2026, 0, 1);
const number = (i: number) => `+9198765${String(i).padStart(5, '0')}`; // valid Indian mobiles, E.164

type Target = 'sqlite' | 'redis' | 'postgres';
const redisStores = new PrefixedStores();
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  if (!skipRedis) {
    const admin = new Redis(REDIS_URL);
    await redisStores.cleanup(admin);
    admin.disconnect();
  }
});

async function open(target: Target): Promise<{ store: Store; file?: string; schema?: string }> {
  if (target === 'sqlite') {
    const t = tempDir();
    const file = `${t.dir}/fusion.db`;
    const store = new SqliteStore(file);
    cleanups.push(async () => { await store.close(); t.remove(); });
    return { store, file };
  }
  if (target === 'redis') return { store: redisStores.open() };
  const h = await pgHarness();
  cleanups.push(() => h.cleanup());
  return { store: h.store, schema: h.schema };
}

/** Record numbers [from, to) through the consent book, a few at a time. */
async function recordRange(store: Store, from: number, to: number): Promise<void> {
  const book = consentBook(store);
  for (let i = from; i < to; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, to - i) }, (_, j) => book.record(number(i + j), undefined, (i + j) % 3 !== 0, T0 + i + j, 'update_consent')));
  }
}

/** A pass-through SharedState that counts the bytes its answers carry back to this process. */
function counting(shared: SharedState): { shared: SharedState; bytes: () => number } {
  let bytes = 0;
  const wrapped = new Proxy(shared, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        bytes += r === undefined ? 0 : JSON.stringify(r).length;
        return r;
      };
    },
  });
  return { shared: wrapped, bytes: () => bytes };
}

const skipOf = (t: Target) => (t === 'redis' ? skipRedis : t === 'postgres' ? skipPg : false);

for (const target of ['sqlite', 'postgres', 'redis'] as const) {
  test(`on ${target}: a record costs the same with ${N} contacts recorded as with 200, and a page reads only its numbers`, { skip: skipOf(target) }, async () => {
    const { store, file, schema } = await open(target);
    const sqlite = store as SqliteStore;
    const walBytes = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    /** SQLite: the bytes the next 20 records add to the WAL (emptied first), per record. */
    const walPerRecord = async (from: number) => {
      sqlite.db.pragma('wal_checkpoint(TRUNCATE)');
      const before = walBytes();
      await recordRange(store, from, from + 20);
      return (walBytes() - before) / 20;
    };
    /** The largest value or row the store keeps for consent (SQL stores). */
    const largest = async (): Promise<number> => {
      if (target === 'sqlite') return sqlite.db.prepare(`SELECT coalesce(max(length(value)), 0) FROM shared_state`).pluck().get() as number;
      const c = await pgClient();
      try {
        const { rows } = await c.query(`SELECT coalesce(max(pg_column_size(s.*)), 0)::int AS n FROM "${schema}".shared_state s`);
        return rows[0].n as number;
      } finally {
        await c.end();
      }
    };

    await recordRange(store, 0, 180);
    const small = target === 'sqlite' ? await walPerRecord(180) : 0; // 200 recorded after it
    const largestSmall = target === 'redis' ? 0 : await largest();
    await recordRange(store, 200, N - 20);
    const large = target === 'sqlite' ? await walPerRecord(N - 20) : 0; // N recorded after it
    const largestLarge = target === 'redis' ? 0 : await largest();
    console.log(`${target}: WAL bytes per record at 200 contacts ${small}, at ${N} ${large}; largest value/row at 200 ${largestSmall} B, at ${N} ${largestLarge} B`);
    if (target === 'sqlite') assert.ok(large <= small * 1.5 + 8192, `a record wrote ${large} B of WAL with ${N} contacts, ${small} B with 200`);
    if (target !== 'redis') assert.ok(largestLarge < 2048, `the store rewrites a value of ${largestLarge} B (${largestSmall} B with 200 contacts) on a record`);

    // A page of 10 in the middle carries about 10 entries back, not every number ever recorded.
    const { shared, bytes } = counting(store.shared!);
    const book = new ConsentBook(shared);
    await book.list(T0 + N, 1); // the first listing of a process checks once for an old index
    const start = bytes();
    const page = await book.list(T0 + N, 10, number(1234));
    const read = bytes() - start;
    console.log(`${target}: a page of 10 after ${N} contacts carried ${read} B back from the store`);
    assert.deepEqual(page.items.map((e) => e.contact), Array.from({ length: 10 }, (_, i) => number(1235 + i)));
    assert.equal(page.next, number(1244));
    assert.ok(read < 4096, `a page of 10 read ${read} B`);
  });

  test(`on ${target}: numbers in the index of an earlier version are still listed, with the new ones, in order`, { skip: skipOf(target) }, async () => {
    const { store } = await open(target);
    const shared = store.shared!;
    // What an earlier version wrote: the entry of each number, and the number in the one-value index.
    const old = ['+447700900123', '+919876543210', '+14155550100'];
    for (const [i, c] of old.entries()) {
      await shared.put(`consent:whatsapp:${c}`, { contact: c, countryCode: '', nationalNumber: c.slice(1), consent: i !== 1, updatedAt: T0, source: 'update_consent' }, 3_153_600_000_000, T0);
      await shared.tally!(LEGACY_INDEX, { [c]: 1 }, 3_153_600_000_000, T0);
    }
    // The upgraded version records two more (one of them again) and lists them all, two a page.
    const book = consentBook(store);
    await book.record('+12025550123', undefined, false, T0 + 1);
    await book.record('+919876543210', undefined, true, T0 + 2);
    const seen: { contact: string; consent: boolean }[] = [];
    let cursor: string | undefined;
    do {
      const page = await book.list(T0 + 3, 2, cursor);
      seen.push(...page.items.map((e) => ({ contact: e.contact, consent: e.consent })));
      cursor = page.next ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, [
      { contact: '+12025550123', consent: false },
      { contact: '+14155550100', consent: true },
      { contact: '+447700900123', consent: true },
      { contact: '+919876543210', consent: true },
    ]);
    // Another process (a fresh book) lists the same without moving them again.
    const again = await new ConsentBook(shared).list(T0 + 4, 10);
    assert.deepEqual(again.items.map((e) => e.contact), seen.map((e) => e.contact));
    assert.equal(again.next, null);
  });

  test(`on ${target}: addMembers / members: one member per value, pages in binary order`, { skip: skipOf(target) }, async () => {
    const { store } = await open(target);
    const shared = store.shared!;
    assert.ok(shared.addMembers && shared.members, 'the store keeps sets');
    await shared.addMembers('set:a', ['+b', '+a', '+c', '+a', '+B']);
    await shared.addMembers('set:b', ['+z']);
    assert.deepEqual(await shared.members('set:a', 2), ['+B', '+a']);
    assert.deepEqual(await shared.members('set:a', 2, '+a'), ['+b', '+c']);
    assert.deepEqual(await shared.members('set:a', 5, '+c'), []);
    assert.deepEqual(await shared.members('set:b', 5), ['+z']);
    assert.deepEqual(await shared.members('set:none', 5), []);
  });
}
