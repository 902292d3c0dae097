// SharedState on PostgreSQL: the semantics the delivery layer relies on (fixed-window counts,
// flags that only grow, evenly spaced send slots, JSON values with expiry), each with the caller's
// clock, and agreement between two stores (two pools, as two processes) on one schema.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import type { PostgresSharedState } from '../../src/stores/postgres/shared-state.js';
import { pgHarness, pgSkip, schemaUrl } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL SharedState', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  let other: PostgresStore;
  before(async () => {
    h = await pgHarness();
    other = await PostgresStore.open(schemaUrl(h.schema));
  });
  after(async () => {
    await other?.close();
    await h?.cleanup();
  });

  it('hit counts in a fixed window that starts at the first hit', async () => {
    const s = h.store.shared;
    assert.equal(await s.hit('f', 1000, 10_000), 1);
    assert.equal(await other.shared.hit('f', 1000, 10_500), 2, 'another pool counts on the same row');
    assert.equal(await s.hit('f', 1000, 10_999), 3);
    assert.equal(await s.hit('f', 1000, 11_000), 1, 'the window ended at 11,000: a new one starts');
  });

  it('tally adds counters from every pool into one object per key, which expires whole', async () => {
    const s = h.store.shared;
    await s.tally!('t', { sent: 2, failed: 0 }, 1000, 5000);
    await other.shared.tally!('t', { sent: 1, delivered: 3 }, 1000, 5100);
    assert.deepEqual(await s.tallies!(['t', 'none'], 5200), [{ sent: 3, delivered: 3 }, null]);
    assert.deepEqual(await s.tallies!(['t'], 6100), [null], 'past its expiry (5100 + 1000) it is gone');
    await s.tally!('t', { sent: 1 }, 1000, 6200);
    assert.deepEqual(await other.shared.tallies!(['t'], 6200), [{ sent: 1 }], 'an expired tally starts again from zero');
  });

  it('a flag is up until its end; a later end wins, an earlier one does not shorten it', async () => {
    const s = h.store.shared;
    assert.equal(await s.flagged('d', 0), null);
    await s.flag('d', 5000, 1000);
    assert.equal(await s.flagged('d', 1000), 5000);
    await s.flag('d', 3000, 1000);
    assert.equal(await other.shared.flagged('d', 1000), 5000);
    await s.flag('d', 8000, 2000);
    assert.equal(await s.flagged('d', 7999), 8000);
    assert.equal(await s.flagged('d', 8000), null, 'down at its end');
    await s.flag('d', 9500, 9000);
    assert.equal(await s.flagged('d', 9000), 9500, 'raised again after it ended');
  });

  it('take spaces slots evenly and refuses past maxWait without reserving', async () => {
    const s = h.store.shared;
    // 4 per second: one slot every 250 ms.
    assert.deepEqual(
      [await s.take('r', 4, 600, 1000), await s.take('r', 4, 600, 1000), await s.take('r', 4, 600, 1000)],
      [0, 250, 500],
    );
    assert.equal(await s.take('r', 4, 600, 1000), -750, 'the next slot is 750 ms away: refused');
    assert.equal(await s.take('r', 4, 600, 1100), -650);
    assert.equal(await s.take('r', 4, 600, 1200), 550, 'the refusals reserved nothing');
    assert.equal(await s.take('r', 4, 600, 10_000), 0, 'idle long enough: the slot is now');
  });

  it('concurrent takes from two pools get distinct slots', async () => {
    const now = 50_000;
    const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h.store : other).shared.take('c', 10, 10_000, now)));
    assert.deepEqual([...waits].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i * 100));
  });

  it('put/get keep a JSON value until its ttl; a put replaces it', async () => {
    const s = h.store.shared;
    assert.equal(await s.get('v', 0), null);
    await s.put('v', { state: 'sent', n: [1, 'two'] }, 1000, 100);
    assert.deepEqual(await other.shared.get('v', 1099), { state: 'sent', n: [1, 'two'] });
    assert.equal(await s.get('v', 1100), null, 'expired');
    await s.put('v', 'job-7', 1000, 2000);
    assert.equal(await s.get('v', 2500), 'job-7');
  });

  it("put keeps a value holding a NUL or a lone surrogate (a provider's status text), each as U+FFFD", async () => {
    const s = h.store.shared;
    await s.put('report', { status: 'failed', providerStatus: 'err\u0000 \udc00', errorCode: '30008' }, 1000, 1000);
    assert.deepEqual(await other.shared.get('report', 1500), { status: 'failed', providerStatus: 'err\ufffd \ufffd', errorCode: '30008' });
  });

  it('expired rows are swept as writes go on', async () => {
    const s = h.store.shared;
    for (let i = 0; i < 100; i++) await s.put(`old:${i}`, i, 10, 0);
    // The sweep runs every 500 writes (100 puts + 400 hits), off the caller's path.
    for (let i = 0; i < 500; i++) await s.hit('sweeper', 1_000_000, 1000);
    await (s as PostgresSharedState).sweeping;
    const { rows } = await h.store.pool.query(`SELECT count(*)::int AS n FROM "${h.schema}".shared_state WHERE key LIKE 'old:%'`);
    assert.equal(rows[0].n, 0);
    assert.equal(await s.hit('sweeper', 1_000_000, 1000), 501, 'live rows stay');
  });
});
