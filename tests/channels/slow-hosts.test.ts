// A slow destination host's share of a process's webhook requests (src/channels/http/slow-hosts.ts):
// the rules on a manual clock, then a real Fusion on SQLite with loopback partners, one answering
// slowly: with the limit, another partner's webhooks queued behind its backlog go out after one slow
// round; without it (the control, limit 0) they wait for the whole backlog.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { SnoozeError } from '../../src/core/errors.js';
import type { AttemptRecord, Job } from '../../src/core/job.js';
import { SlowHosts } from '../../src/channels/http/slow-hosts.js';
import type { SlowHostConfig } from '../../src/channels/config-types.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { receiver } from './webhook-server.js';

const A = 'http://a.example:8080/hook';
const B = 'http://b.example/hook';

/** A job as claimed: the attempt running now last (no outcome yet), after a run of `snoozes` snoozes. */
const job = (snoozes = 0) => ({
  history: [
    ...(snoozes > 0 ? [{ attempt: 1, workerId: 'w', startedAt: 1, endedAt: 2, outcome: 'snoozed', snoozes } as AttemptRecord] : []),
    { attempt: 1, workerId: 'w', startedAt: 3 } as AttemptRecord,
  ],
});

/** A request whose exchange is held open until its release is called. */
function pending(hosts: SlowHosts, url: string) {
  let release!: () => void;
  const answered = new Promise<void>((r) => (release = r));
  const sent = hosts.around(url, job(), (timed) => timed(() => answered));
  return { sent, release };
}
const quick = (hosts: SlowHosts, url: string, snoozes = 0) => hosts.around(url, job(snoozes), (timed) => timed(async () => 'sent'));
const delayOf = (hosts: SlowHosts, url: string, snoozes = 0) => quick(hosts, url, snoozes).then(() => -1, (err: SnoozeError) => err.delayMs);

describe('slow hosts: the rules', () => {
  it('a host that answers quickly is never limited; one with an answer awaited for afterMs is, at its limit', async () => {
    const clock = new ManualClock();
    const hosts = new SlowHosts({ limit: 2, afterMs: 1_000 }, clock, () => 0.5);
    const first = pending(hosts, A);
    const second = pending(hosts, A);
    const third = pending(hosts, A);
    assert.deepEqual(hosts.slowNow(), [], 'three young requests: not slow, none refused');
    clock.advance(1_000);
    assert.deepEqual(hosts.slowNow(), ['a.example:8080']);
    await assert.rejects(quick(hosts, A), (err: unknown) => {
      assert.ok(err instanceof SnoozeError);
      assert.equal(err.delayMs, 1_000, 'a second while few wait (jitter at its middle)');
      assert.match(err.message, /host a\.example:8080 is slow: 3 requests in flight here, at most 2/);
      return true;
    });
    assert.equal(await quick(hosts, B), 'sent', 'another host is not limited');
    first.release();
    second.release();
    await Promise.all([first.sent, second.sent]);
    // One in flight (third), under the limit: sent, though the host is slow.
    assert.equal(await quick(hosts, A), 'sent');
    third.release();
    await third.sent;
  });

  it('only the exchange is timed: bookkeeping before it (the breaker\'s store calls) does not make a host slow', async () => {
    const clock = new ManualClock();
    const hosts = new SlowHosts({ limit: 1, afterMs: 500 }, clock, () => 0.5);
    await hosts.around(A, job(), async (timed) => {
      clock.advance(10_000); // a slow store before the request
      return timed(async () => clock.advance(10));
    });
    assert.deepEqual(hosts.slowNow(), []);
    await hosts.around(A, job(), (timed) => timed(async () => clock.advance(600)));
    assert.deepEqual(hosts.slowNow(), ['a.example:8080'], 'an answer that took afterMs');
  });

  it('requests held in bookkeeping, before or after their exchange, are counted against the limit but never make a host slow', async () => {
    const clock = new ManualClock();
    const hosts = new SlowHosts({ limit: 2, afterMs: 2_000 }, clock, () => 0.5);
    const gate = (() => {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      return { open, opened };
    })();
    // A is admitted first but begins its exchange last; B's exchange is the oldest.
    let answerA!: () => void;
    let answerB!: () => void;
    const a = hosts.around(A, job(), async (timed) => {
      await gate.opened;
      return timed(() => new Promise<void>((r) => (answerA = r)));
    });
    const b = hosts.around(A, job(), (timed) => timed(() => new Promise<void>((r) => (answerB = r))));
    clock.advance(1_000);
    gate.open();
    await new Promise((r) => setImmediate(r));
    clock.advance(1_500);
    assert.deepEqual(hosts.slowNow(), ['a.example:8080'], 'B has awaited its answer for 2.5 s, A for 1.5 s');
    answerB();
    await b;
    answerA();
    await a;
    assert.deepEqual(hosts.slowNow(), ['a.example:8080'], 'slow for a minute after B\'s answer');
    clock.advance(60_000);
    assert.deepEqual(hosts.slowNow(), [], 'a minute after');
    // A quick exchange, then a slow store write after it: not slow.
    await hosts.around(A, job(), async (timed) => {
      await timed(async () => clock.advance(5));
      clock.advance(5_000);
    });
    assert.deepEqual(hosts.slowNow(), []);
  });

  it('a host stays slow for a minute after a slow answer; the wait grows with the host\'s snoozes and halves with the job\'s own', async () => {
    const clock = new ManualClock();
    const hosts = new SlowHosts({ limit: 1, afterMs: 500 }, clock, () => 0.5);
    await hosts.around(A, job(), (timed) => timed(async () => clock.advance(600)));
    assert.deepEqual(hosts.slowNow(), ['a.example:8080'], 'remembered after its answer');
    const held = pending(hosts, A);
    const delays: number[] = [];
    for (let n = 1; n <= 2_000; n++) {
      const d = await delayOf(hosts, A);
      if ([1, 50, 100, 500, 2_000].includes(n)) delays.push(d);
    }
    // The host's snoozes in the window over 50 a second: 1 s until 50, then growing.
    assert.deepEqual(delays, [1_000, 1_000, 2_000, 10_000, 40_000]);
    // A job that has waited comes back sooner: halved for each snooze in a row, four at most, 0.5 s at least.
    const waits = [];
    for (const n of [1, 2, 4, 9]) waits.push(await delayOf(hosts, A, n));
    assert.deepEqual(waits, [20_010, 10_010, 2_504, 2_505]);
    clock.advance(10_000);
    assert.equal(await delayOf(hosts, A), 40_100, 'the window before still counts');
    assert.equal(await delayOf(hosts, A, 3), 5_015);
    clock.advance(20_000);
    assert.equal(await delayOf(hosts, A, 4), 500, 'a job that waited long, when few wait');
    assert.equal(await delayOf(hosts, A), 1_000, 'two quiet windows later, a second again');
    assert.equal(await delayOf(hosts, B), -1, 'another host\'s count is its own');
    held.release();
    await held.sent;
    clock.advance(60_000);
    assert.deepEqual(hosts.slowNow(), [], 'a minute later it is not slow any more');
    const again = [pending(hosts, A), pending(hosts, A)];
    for (const r of again) r.release();
    await Promise.all(again.map((r) => r.sent));
  });

  it('jitters each wait by ±20%, limit 0 turns the limit off, and hosts long quiet are let go', async () => {
    const clock = new ManualClock();
    const low = new SlowHosts({ limit: 1, afterMs: 1 }, clock, () => 0);
    const high = new SlowHosts({ limit: 1, afterMs: 1 }, clock, () => 0.999_999);
    const off = new SlowHosts({ limit: 0, afterMs: 1 }, clock);
    const held = [pending(low, A), pending(high, A), pending(off, A)];
    clock.advance(10);
    assert.equal(await delayOf(low, A), 800);
    assert.equal(await delayOf(high, A), 1_200);
    assert.equal(await quick(off, A), 'sent');
    for (const r of held) r.release();
    await Promise.all(held.map((r) => r.sent));
    const many = new SlowHosts({ limit: 1, afterMs: 500 }, clock);
    for (let k = 0; k < 1_000; k++) await many.around(`http://h${k}.example/`, job(), (timed) => timed(async () => clock.advance(600)));
    assert.equal(many.kept, 1_000, 'each host slow after its answer');
    clock.advance(60_000 + 20_000);
    await quick(many, 'http://new.example/');
    assert.equal(many.kept, 1, 'past 1,000 hosts, those quiet and no longer slow are let go');
  });
});

const SLOW_MS = 800;
const SLOTS = 4;
const BACKLOG = 12;
const OTHERS = 4;

/** BACKLOG webhooks to a partner answering in SLOW_MS, then OTHERS to a quick one: when each quick one was delivered, and the slow partner's load. */
async function othersBehindSlow(slowHost: SlowHostConfig) {
  let inFlight = 0;
  const inFlightAtArrival: number[] = [];
  const slow = await receiver((_hit, res) => {
    inFlightAtArrival.push(++inFlight);
    setTimeout(() => {
      inFlight--;
      res.writeHead(200).end('ok');
    }, SLOW_MS);
  });
  const quick = await receiver();
  const kit = await sqliteFusion(undefined, { outgoing: { allow: ['127.0.0.1/32'] }, channels: { webhook: { slowHost } } });
  try {
    const backlog: Job[] = [];
    for (let k = 0; k < BACKLOG; k++) backlog.push(await kit.fusion.enqueue('webhook', { url: `${slow.base}/hook`, method: 'POST', data: { k } }, { maxAttempts: 1 }));
    kit.fusion.worker({ queues: ['webhook'], concurrency: SLOTS, pollMs: 25 });
    await slow.hit(SLOTS);
    const added = Date.now();
    const others: Job[] = [];
    for (let k = 0; k < OTHERS; k++) others.push(await kit.fusion.enqueue('webhook', { url: `${quick.base}/hook`, method: 'POST', data: { k } }, { maxAttempts: 1 }));
    const delivered: number[] = [];
    for (const j of others) {
      const done = await waitForState(kit.store, j.id, ['completed', 'failed'], 30_000);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      delivered.push(done.endedAt! - added);
    }
    // Every job of the backlog is delivered once, with one attempt: a snooze spends none.
    const ends = await Promise.all(backlog.map((j) => waitForState(kit.store, j.id, ['completed', 'failed'], 60_000)));
    assert.deepEqual(ends.map((j) => [j.state, j.attempts]), backlog.map(() => ['completed', 1]));
    assert.equal(slow.hits.length, BACKLOG, 'the slow partner got each webhook once');
    const snoozed = ends.filter((j) => j.history.some((h) => h.outcome === 'snoozed')).length;
    // Order, not time: how many of the slow partner's webhooks went out before the last quick one.
    const lastQuick = Math.max(...quick.hits.map((h) => h.at));
    const slowBefore = slow.hits.filter((h) => h.at <= lastQuick).length;
    return { delivered, inFlightAtArrival, snoozed, slowBefore };
  } finally {
    await kit.cleanup();
    await slow.close();
    await quick.close();
  }
}

describe('webhooks: a slow partner holds a share of the lane, not all of it', () => {
  it('another partner queued behind a slow backlog goes out after one slow round (control: limit off)', async () => {
    const limited = await othersBehindSlow({ limit: 2, afterMs: SLOW_MS / 2 });
    const unlimited = await othersBehindSlow({ limit: 0 });
    console.log(JSON.stringify({ test: 'slow-host', deliveredMs: limited.delivered, controlDeliveredMs: unlimited.delivered, slowBefore: limited.slowBefore, controlSlowBefore: unlimited.slowBefore, snoozed: limited.snoozed, inFlightAtArrival: limited.inFlightAtArrival }));
    // With the limit the quick ones go in the round after the first; without it, after the whole backlog.
    assert.ok(limited.slowBefore <= SLOTS + 4, `${limited.slowBefore} slow webhooks went out before the last quick one`);
    assert.equal(unlimited.slowBefore, BACKLOG, 'the control: every slow webhook first');
    // The first round went out together, before the host was known slow; after it, at most two at once.
    assert.ok(limited.inFlightAtArrival.slice(SLOTS).every((n) => n <= 2), `in flight at each arrival: ${limited.inFlightAtArrival.join(',')}`);
    assert.ok(limited.snoozed > 0, 'jobs over the limit were snoozed');
    assert.ok(unlimited.inFlightAtArrival.some((n) => n > 2), `the control used every slot: ${unlimited.inFlightAtArrival.join(',')}`);
    assert.equal(unlimited.snoozed, 0);
  });
});
