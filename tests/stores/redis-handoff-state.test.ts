// The client-side bookkeeping of the Redis idle hand-off (src/stores/redis/handoff.ts), in the
// orders of arrival a live test cannot force: a message before the answer of the claim that
// registered, a claim beside the owning one, a message after a claim settled the registration.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Handoffs, registrationToken } from '../../src/stores/redis/handoff.js';
import type { ClaimRequest } from '../../src/core/store.js';

const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({ queues: ['q'], workerId: 'w1', limit: 4, leaseMs: 30_000, now: 1000, idleMs: 2000, ...over });
// A registration as the claim under `claimToken` writes it: under its own token (registrationToken).
const member = (claimToken: string, slots: number, worker = 'w1') => `${registrationToken(claimToken)}\n${slots}\n30000\n${worker}`;
const handed = (...rows: string[]) => ({ rows, now: 1500 });

describe('Redis hand-off bookkeeping', () => {
  it('holds a message that beats its claim answer and delivers it when the claim lands', () => {
    const h = new Handoffs();
    const listener = () => {};
    h.listen('w1', listener);
    const t = h.ticket(req(), 'q', 4, 'tok1');
    assert.equal(t.owner, true);
    assert.equal(t.until, 3000);
    assert.equal(h.message(registrationToken('tok1'), handed('row-a')), null, 'not deliverable before the claim answers');
    const out = h.settle(t, member('tok1', 4), null);
    assert.deepEqual(out.early?.handed.rows, ['row-a']);
    assert.equal(out.early?.listener, listener);
    // Settled: the registration is not named again, and its list is forgotten by the next script.
    assert.equal(h.ticket(req(), 'q', 4, 'tok2').prev, '');
    assert.equal(h.takeForgets('q'), registrationToken('tok1'));
  });

  it('lets one claim per worker and queue own the registration; one beside it leaves those slots out', () => {
    const h = new Handoffs();
    h.listen('w1', () => {});
    const first = h.ticket(req(), 'q', 4, 'tok1');
    h.settle(first, member('tok1', 3), null);
    const owner = h.ticket(req(), 'q', 4, 'tok2');
    assert.equal(owner.prev, member('tok1', 3));
    const beside = h.ticket(req(), 'q', 4, 'tok3');
    assert.equal(beside.owner, false);
    assert.equal(beside.limit, 1);
    assert.equal(beside.until, '', 'only the owner registers');
    assert.deepEqual(h.settle(beside, null, null), { run: [], giveBack: [], orphan: null, early: null });
  });

  it('delivers a registration once: by message or by the claim that finds it taken, never both', () => {
    const h = new Handoffs();
    h.listen('w1', () => {});
    h.settle(h.ticket(req(), 'q', 4, 'tok1'), member('tok1', 2), null);
    // The message first: the claim's handed rows are then the same jobs and are dropped.
    const owner = h.ticket(req(), 'q', 4, 'tok2');
    assert.ok(h.message(registrationToken('tok1'), handed('row-a')));
    assert.deepEqual(h.settle(owner, null, ['row-a']).run, []);
    // The claim first: a message after it is dropped.
    h.settle(h.ticket(req(), 'q', 4, 'tok3'), member('tok3', 2), null);
    const next = h.ticket(req(), 'q', 4, 'tok4');
    assert.deepEqual(h.settle(next, null, ['row-b']).run, ['row-b']);
    assert.equal(h.message(registrationToken('tok3'), handed('row-b')), null);
  });

  it('gives back what reaches a worker that stopped listening, and registers nothing for it', () => {
    const h = new Handoffs();
    h.listen('w1', () => {});
    h.settle(h.ticket(req(), 'q', 4, 'tok1'), member('tok1', 2), null);
    const inAir = h.ticket(req(), 'q', 4, 'tok2');
    const regs = h.unlisten('w1');
    assert.deepEqual(regs.map((r) => r.token), [registrationToken('tok1')]);
    const out = h.settle(inAir, member('tok2', 4), ['row-a']);
    assert.deepEqual(out.giveBack, ['row-a']);
    assert.equal(out.orphan?.token, registrationToken('tok2'), 'a registration made meanwhile is taken back');
    assert.equal(h.ticket(req(), 'q', 4, 'tok5').owner, false, 'no ticket owns for a worker not listening');
  });

  it('registers only for a single-queue claim that asks (idleMs)', () => {
    const h = new Handoffs();
    h.listen('w1', () => {});
    assert.equal(h.ticket(req({ queues: ['q', 'r'] }), 'q', 4, 't1').owner, false);
    assert.equal(h.ticket(req({ idleMs: undefined }), 'q', 4, 't2').owner, false);
    assert.equal(h.ticket(req({ workerId: 'other' }), 'q', 4, 't3').owner, false);
  });
});
