// The breaker per destination host (src/channels/http/host-breaker.ts) on each store's shared state:
// two breakers on one store stand for two worker processes. Times are passed in, so the cooldown
// and the probe spacing are crossed without waiting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.js';
import type { SharedState, Store } from '../../src/core/store.js';
import { DEFAULTS } from '../../src/core/job.js';
import type { BackoffPolicy } from '../../src/core/job.js';
import type { Clock } from '../../src/core/clock.js';
import { CancelledError, TimeoutError } from '../../src/core/errors.js';
import { HostBreaker, HostOpenError, hostBreakers, isHostFailure, type Admission } from '../../src/channels/http/host-breaker.js';
import { STORES } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));
const CONFIG = { threshold: 3, windowMs: 60_000, cooldownMs: 30_000 };
const A = 'http://partner-a.example:8080/hook';
const B = 'http://partner-b.example/hook';
const C = 'http://partner-c.example/hook';
/** A job's first attempt with a fixed 1 s backoff. */
const JOB = { attempts: 1, maxAttempts: 3, backoff: { type: 'fixed' as const, delay: 1000 } as BackoffPolicy };
const SPACING = 15_000;
/** JOB with no backoff of its own, so a wait told to it is the breaker's alone. */
const NO_BACKOFF = { ...JOB, backoff: { type: 'fixed', delay: 0 } as BackoffPolicy };

/** Opens A's breaker at t0 (CONFIG's threshold of failures); the admission the failures came from. */
async function openA(breaker: HostBreaker, t0: number): Promise<Admission> {
  const a = await breaker.admit(A, JOB, t0, SPACING);
  for (let k = 0; k < CONFIG.threshold; k++) await breaker.failed(A, a, t0);
  return a;
}

/** The store's shared state, with every put whose key `refuse` names failing as a store error would. */
function refusingPuts(shared: SharedState, refuse: (key: string) => boolean): SharedState {
  return new Proxy(shared, {
    get(target, prop) {
      if (prop === 'put') {
        return (key: string, value: unknown, ttlMs: number, now: number) =>
          refuse(key) ? Promise.reject(new Error('store unavailable')) : target.put(key, value, ttlMs, now);
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function openError(p: Promise<unknown>): Promise<HostOpenError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HostOpenError, `a HostOpenError, got ${String(err)}`);
    return err;
  }
  assert.fail('admitted where the breaker should be open');
}

STORES.forEach((factory, i) => {
  describe(`host breaker on ${factory.name}'s shared state`, { skip: skips[i] }, () => {
    const withStore = async (body: (store: Store) => Promise<void>) => {
      const t = await factory.create();
      const store = await t.open();
      try {
        await body(store);
      } finally {
        await store.close();
        await t.cleanup();
      }
    };

    it('opens after threshold failures to one host, for every worker; other hosts unaffected; then one probe at a time; an answer closes it', () => withStore(async (store) => {
      const one = new HostBreaker(store.shared, CONFIG, silentLogger);
      const two = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 1_000_000;
      const a = await one.admit(A, JOB, t0, SPACING);
      assert.equal(a.probe, false);
      await one.failed(A, a, t0);
      await two.failed(A, a, t0 + 10);
      assert.equal((await two.admit(A, JOB, t0 + 20, SPACING)).probe, false, 'below the threshold');
      await one.failed(A, a, t0 + 30);

      // Open for the other worker too (its local look at the closed host is older than 250 ms).
      const open = await openError(two.admit(A, JOB, t0 + 1000, SPACING));
      assert.equal(open.code, 'host_unavailable');
      assert.equal(open.retryable, true);
      assert.equal(open.retryAfterMs, 30_000 + 30 - 1000, 'until the cooldown ends');
      assert.match(open.message, /partner-a\.example:8080 is failing/);
      assert.equal((await one.admit(B, JOB, t0 + 1000, SPACING)).probe, false, 'another host');
      // A job whose backoff is longer than the rest of the cooldown comes back no sooner than it.
      const late = await openError(one.admit(A, { ...JOB, backoff: { type: 'fixed', delay: 120_000 } }, t0 + 1000, SPACING));
      assert.equal(late.retryAfterMs, 120_000);
      // A job's last attempt goes out anyway: no job fails for good untried.
      const lastTry = await one.admit(A, { ...JOB, attempts: 3 }, t0 + 1000, SPACING);
      assert.equal(lastTry.probe, false);

      // Half open: one probe. A job that finds it young comes back when it is a second old (a host
      // that is back has answered by then); one that finds it older waits for the next probe's slot.
      const after = t0 + 30 + 30_000;
      const probe = await one.admit(A, JOB, after, SPACING);
      assert.equal(probe.probe, true);
      assert.equal((await openError(two.admit(A, NO_BACKOFF, after + 100, SPACING))).retryAfterMs, 900, 'back when the probe is 1 s old');
      assert.equal((await openError(two.admit(A, JOB, after + 100, SPACING))).retryAfterMs, 1000, 'no sooner than its own backoff');
      const waiting = await openError(two.admit(A, NO_BACKOFF, after + 1000, SPACING));
      assert.ok(waiting.retryAfterMs! > SPACING - 1100 && waiting.retryAfterMs! <= SPACING - 1000, `wait for the next probe: ${waiting.retryAfterMs}`);

      await one.answered(A, probe, after + 200);
      // That last attempt, sent while the breaker was open, fails after the probe closed it: it
      // says nothing of the host now (before: it reopened the breaker and put its generation back).
      for (let k = 0; k < 3; k++) await two.failed(A, lastTry, after + 250);
      assert.equal((await two.admit(A, JOB, after + 300, SPACING)).probe, false, 'closed for every worker');
      // The count starts again: one failure (or two) after closing does not open it, a third does.
      const again = await two.admit(A, JOB, after + 400, SPACING);
      await two.failed(A, again, after + 400);
      await one.failed(A, await one.admit(A, JOB, after + 500, SPACING), after + 500);
      assert.equal((await two.admit(A, JOB, after + 1000, SPACING)).probe, false, 'two failures since it closed');
      await two.failed(A, again, after + 1100);
      await openError(one.admit(A, JOB, after + 1500, SPACING));
    }));

    it('a failed probe opens the breaker again for a whole cooldown', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 5_000_000;
      const a = await openA(breaker, t0);
      const after = t0 + 30_000;
      const probe = await breaker.admit(A, JOB, after, SPACING);
      assert.equal(probe.probe, true);
      await breaker.failed(A, probe, after + 15_000);
      const open = await openError(breaker.admit(A, JOB, after + 16_000, SPACING));
      assert.equal(open.retryAfterMs, 29_000);
      // Past that cooldown: a probe again, one at a time.
      const next = await breaker.admit(A, JOB, after + 45_000, SPACING);
      assert.equal(next.probe, true);
      await openError(breaker.admit(A, JOB, after + 45_100, SPACING));
      // A request admitted before the probe failed says nothing of the host now: it does not count.
      await breaker.failed(A, a, after + 45_200);
      await breaker.answered(A, next, after + 45_300);
      assert.equal((await breaker.admit(A, JOB, after + 45_400, SPACING)).probe, false, 'the probe\'s answer closed it');
    }));

    it('a probe taken by a job of a longer timeout: a job of a shorter one still comes back when the probe is a second old', () => withStore(async (store) => {
      const webhooks = new HostBreaker(store.shared, CONFIG, silentLogger);
      const callbacks = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 7_000_000;
      await openA(webhooks, t0);
      // A webhook of a 60 s timeout probes (spacing 130 s); a callback (spacing 40 s) finds it 100 ms old.
      assert.equal((await webhooks.admit(A, JOB, t0 + 30_000, 130_000)).probe, true);
      assert.equal((await openError(callbacks.admit(A, NO_BACKOFF, t0 + 30_100, 40_000))).retryAfterMs, 900);
    }));

    it('half open, a failed request that was no probe leaves the breaker to the probe', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 8_000_000;
      await openA(breaker, t0);
      const lastTry = await breaker.admit(A, { ...JOB, attempts: 3 }, t0 + 1000, SPACING);
      assert.equal(lastTry.probe, false);
      // It fails once the cooldown is over: half open, so it neither reopens nor extends the breaker.
      await breaker.failed(A, lastTry, t0 + 30_500);
      assert.equal((await breaker.admit(A, JOB, t0 + 30_600, SPACING)).probe, true, 'still half open: a probe goes');
    }));

    it('a probe whose start could not be stored is still a probe; a job that finds no start comes back in a second', () => withStore(async (store) => {
      // The store refuses the write of the probe's start (and nothing else).
      const shared = store.shared!;
      const refusing = refusingPuts(shared, (key) => key.startsWith('host:probe-start:'));
      const one = new HostBreaker(refusing, CONFIG, silentLogger);
      const two = new HostBreaker(shared, CONFIG, silentLogger);
      const t0 = 9_000_000;
      await openA(two, t0);
      assert.equal((await one.admit(A, JOB, t0 + 30_000, SPACING)).probe, true);
      assert.equal((await openError(two.admit(A, NO_BACKOFF, t0 + 30_100, SPACING))).retryAfterMs, 1000);
    }));

    it('failures while open push its end on; two workers crossing the threshold at once report one opening', () => withStore(async (store) => {
      const one = new HostBreaker(store.shared, CONFIG, silentLogger);
      const two = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 10_000_000;
      const a = await one.admit(A, JOB, t0, SPACING);
      for (let k = 0; k < 2; k++) await one.failed(A, a, t0);
      await Promise.all([one.failed(A, a, t0 + 1), two.failed(A, a, t0 + 1)]);
      assert.equal((await openError(one.admit(A, JOB, t0 + 10_000, SPACING))).retryAfterMs, 20_001);
      await two.failed(A, a, t0 + 10_000);
      assert.equal((await openError(one.admit(A, JOB, t0 + 35_000, SPACING))).retryAfterMs, 5_000, 'pushed on to 30 s after the last failure');
      const views = await hostBreakers(store.shared, t0 + 35_000);
      assert.deepEqual(views.filter((v) => v.host === 'partner-a.example:8080'), [{ host: 'partner-a.example:8080', state: 'open', openUntil: t0 + 40_000, opens: 1, generation: 0 }]);
      // Past that end: half open; its probe fails: open again under a new generation, counted.
      const probe = await two.admit(A, JOB, t0 + 40_000, SPACING);
      assert.equal(probe.probe, true);
      await two.failed(A, probe, t0 + 40_001);
      const after = (await hostBreakers(store.shared, t0 + 40_002)).find((v) => v.host === 'partner-a.example:8080');
      assert.deepEqual(after, { host: 'partner-a.example:8080', state: 'open', openUntil: t0 + 70_001, opens: 2, generation: 1 });
    }));

    it('an opening whose first write failed is reported by the next failure that writes it', () => withStore(async (store) => {
      // The store refuses one write of the host's record (the threshold-crossing failure's), then takes them.
      const shared = store.shared!;
      let refuse = 1;
      const flaky = refusingPuts(shared, (key) => key.startsWith('host:breaker:') && refuse-- > 0);
      const breaker = new HostBreaker(flaky, CONFIG, silentLogger);
      const t0 = 11_000_000;
      const a = await breaker.admit(A, JOB, t0, SPACING);
      for (let k = 0; k < 2; k++) await breaker.failed(A, a, t0);
      await assert.rejects(breaker.failed(A, a, t0), /store unavailable/);
      assert.deepEqual(await hostBreakers(shared, t0), [], 'not open yet: its write failed');
      await breaker.failed(A, a, t0 + 1);
      assert.deepEqual((await hostBreakers(shared, t0 + 2)).map((v) => [v.host, v.state, v.opens]), [['partner-a.example:8080', 'open', 1]]);
    }));

    it('failures that keep coming push an open breaker on for at most 30 minutes past its end; then a probe goes', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, CONFIG, silentLogger);
      const t0 = 12_000_000;
      const a = await openA(breaker, t0);
      // Three last attempts fail every 20 s (past the threshold in every window: each pushes the end on
      // by the 30 s cooldown).
      let probedAt = 0;
      for (let now = t0 + 20_000; now < t0 + 45 * 60_000 && !probedAt; now += 20_000) {
        const admission = await breaker.admit(A, JOB, now, SPACING).catch((err: unknown) => {
          assert.ok(err instanceof HostOpenError);
          return null;
        });
        if (admission?.probe) probedAt = now;
        else for (let k = 0; k < 3; k++) await breaker.failed(A, a, now);
      }
      assert.ok(probedAt > t0 + 30 * 60_000 && probedAt <= t0 + 30_000 + 30 * 60_000 + 20_000, `probed ${(probedAt - t0) / 1000} s after the opening`);
    }));

    it('a probe that fails at once: the next goes when the cooldown ends, not a probe spacing later', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, { ...CONFIG, cooldownMs: 2_000 }, silentLogger);
      const t0 = 6_000_000;
      await openA(breaker, t0);
      const probe = await breaker.admit(A, JOB, t0 + 2_000, SPACING);
      assert.equal(probe.probe, true);
      // Refused in a millisecond: open for another cooldown (2 s), well inside the spacing (15 s).
      await breaker.failed(A, probe, t0 + 2_001);
      assert.equal((await openError(breaker.admit(A, JOB, t0 + 3_000, SPACING))).retryAfterMs, 1_001);
      assert.equal((await breaker.admit(A, JOB, t0 + 4_001, SPACING)).probe, true);
      const waiting = await openError(breaker.admit(A, JOB, t0 + 5_100, SPACING));
      assert.ok(waiting.retryAfterMs! > SPACING - 1200, `a probe in flight keeps its spacing: ${waiting.retryAfterMs}`);
    }));

    it('around: our own end of an attempt does not count against the host, its own timeout does; a failing store never decides the job', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, { threshold: 1, cooldownMs: 60_000 }, silentLogger);
      const clock = { now: () => 7_000_000 } as unknown as Clock;
      const timedOut = () => Promise.reject(Object.assign(new Error('timed out'), { code: 'timeout' }));
      const cancelled = new AbortController();
      cancelled.abort(new CancelledError('cancelled by an operator'));
      await assert.rejects(breaker.around(A, { job: JOB, signal: cancelled.signal }, clock, SPACING, timedOut), /timed out/);
      assert.equal((await breaker.admit(B, JOB, 7_000_000, SPACING)).probe, false);
      const fresh = new HostBreaker(store.shared, { threshold: 1, cooldownMs: 60_000 }, silentLogger);
      assert.equal((await fresh.admit(A, JOB, 7_000_000, SPACING)).probe, false, 'a cancel is not the host failing');
      const jobTimeout = new AbortController();
      jobTimeout.abort(new TimeoutError('attempt timed out after 100 ms'));
      await assert.rejects(breaker.around(A, { job: JOB, signal: jobTimeout.signal }, clock, SPACING, timedOut), /timed out/);
      await openError(fresh.admit(A, JOB, 7_000_500, SPACING));

      // The store gone: the request still goes out and its answer stands.
      await store.close();
      let sent = 0;
      const answer = await breaker.around(C, { job: JOB, signal: new AbortController().signal }, clock, SPACING, async () => ++sent);
      assert.equal(answer, 1);
      await assert.rejects(breaker.around(B, { job: JOB, signal: new AbortController().signal }, clock, SPACING, timedOut), (err: { code?: string }) => err.code === 'timeout');
      assert.equal(sent, 1);
    }));

    it('threshold 0 turns it off', () => withStore(async (store) => {
      const breaker = new HostBreaker(store.shared, { threshold: 0 }, silentLogger);
      const a = await breaker.admit(A, JOB, 1000, SPACING);
      for (let k = 0; k < 20; k++) await breaker.failed(A, a, 1000 + k);
      assert.equal((await breaker.admit(A, JOB, 2000, SPACING)).probe, false);
    }));
  });
});

describe('host breaker: what counts against a host', () => {
  it('timeouts and connection failures do; HTTP answers and refusals do not', () => {
    assert.equal(isHostFailure({ code: 'timeout' }), true);
    assert.equal(isHostFailure({ code: 'network_error' }), true);
    assert.equal(isHostFailure({ code: 'http_503' }), false);
    assert.equal(isHostFailure({ code: 'outgoing_refused' }), false);
    assert.equal(isHostFailure(new Error('boom')), false);
  });

  it('without shared state (a store that has none) it never opens', async () => {
    const breaker = new HostBreaker(undefined, CONFIG, silentLogger);
    for (let k = 0; k < 10; k++) await breaker.failed(A, { probe: false, generation: 0 }, k);
    assert.equal((await breaker.admit(A, { attempts: 1, maxAttempts: 10, backoff: DEFAULTS.backoff }, 100, SPACING)).probe, false);
  });
});
