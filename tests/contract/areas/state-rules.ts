// State-rule conformance (a contract area): every row of src/core/state-rules.ts driven on a store. Each operator
// action from each of the six states, each attempt outcome (with a live and a stale token), and
// each branch of stall recovery must do exactly what the core tables say.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Outcome, Store, StoreEvent } from '../../../src/core/store.js';
import { resolveSpec } from '../../../src/core/queue.js';
import { JOB_STATES, type JobState, type JobSpec, type JobError } from '../../../src/core/job.js';
import { FusionError } from '../../../src/core/errors.js';
import {
  ACTION_RULES, CANCELLED_AT_ATTEMPT_END, OUTCOME_KINDS, OUTCOME_RULES, actionResult, allows, outcomeState, stallDecision,
  type OperatorAction, type OutcomeKind,
} from '../../../src/core/state-rules.js';
import { useStore, waitFor, type StoreFactory } from '../harness.js';

const T0 = Date.UTC(2026, 0, 1);
const LEASE = 30_000;
const ERR: JobError = { message: 'boom', retryable: true, name: 'Error' };

/** Puts a new job `id` into `state` through the store's own operations. */
async function jobIn(s: Store, id: string, state: JobState): Promise<void> {
  const spec: Partial<JobSpec> & { id: string } = { id, maxAttempts: 5, ...(state === 'scheduled' ? { runAt: T0 + 60_000 } : {}) };
  await s.addJobs({ jobs: [resolveSpec({ task: 't', queue: `q-${id}`, ...spec }, T0)], now: T0 });
  if (state === 'cancelled') await s.cancelJob({ id, now: T0 });
  if (state !== 'active' && state !== 'completed' && state !== 'failed') return;
  const { jobs } = await s.claimJobs({ queues: [`q-${id}`], workerId: 'w', limit: 1, leaseMs: LEASE, now: T0 });
  const token = jobs[0]!.leaseToken!;
  if (state === 'completed') await s.finishJobs({ outcomes: [{ kind: 'completed', id, token, at: T0 + 1, result: 1 }] });
  if (state === 'failed') await s.finishJobs({ outcomes: [{ kind: 'failed', id, token, at: T0 + 1, error: ERR }] });
}

async function act(s: Store, action: OperatorAction, id: string, runAt: number, now: number): Promise<unknown> {
  switch (action) {
    case 'cancel':
      return s.cancelJob({ id, now });
    case 'reschedule':
      return s.rescheduleJob({ id, runAt, now });
    case 'promote':
      return s.promoteJob({ id, now });
    case 'retry':
      return s.retryJob({ id, now });
    case 'remove':
      return s.removeJob({ id, now });
  }
}

export function stateRulesArea(make: StoreFactory): void {
  describe('state rules (src/core/state-rules.ts)', () => {
    let s!: Store;
    useStore(make, (store) => (s = store));

    for (const action of Object.keys(ACTION_RULES) as OperatorAction[]) {
      it(`${action}: allowed from ${ACTION_RULES[action].from.join(', ')}, a conflict from any other state`, async () => {
        const now = T0 + 10;
        for (const [runAt, tag] of [[T0 + 5_000, 'later'], [T0, 'due']] as const) {
          if (action !== 'reschedule' && tag === 'due') continue;
          for (const state of JOB_STATES) {
            const id = `${action}-${state}-${tag}`;
            await jobIn(s, id, state);
            assert.equal((await s.getJob({ id }))!.state, state, `setup of ${id}`);
            if (!allows(action, state)) {
              await assert.rejects(act(s, action, id, runAt, now), (e: unknown) => {
                assert.ok(e instanceof FusionError, `${id}: a FusionError`);
                assert.equal(e.code, 'conflict', id);
                assert.equal(e.message, ACTION_RULES[action].refusal(id, state), id);
                return true;
              });
              assert.equal((await s.getJob({ id }))!.state, state, `${id} unchanged after a refusal`);
              continue;
            }
            await act(s, action, id, runAt, now);
            const expected = actionResult(action, state, runAt, now);
            const after = await s.getJob({ id });
            if (expected === 'removed') assert.equal(after, null, id);
            else if (expected === 'cancel-requested') {
              assert.equal(after!.state, 'active', id);
              assert.equal(after!.cancelRequested, true, id);
            } else assert.equal(after!.state, expected, id);
          }
        }
      });
    }

    it('outcomes: each applies under a live token as OUTCOME_RULES says, and not at all under a stale one', async () => {
      for (const kind of OUTCOME_KINDS) {
        for (const retryAt of kind === 'retry' || kind === 'snoozed' ? [T0 + 5_000, T0 + 1] : [0]) {
          const id = `o-${kind}-${retryAt}`;
          await jobIn(s, id, 'active');
          const token = (await s.getJob({ id }))!.leaseToken!;
          const at = T0 + 1;
          const base = { id, at };
          const outcome =
            kind === 'completed' ? { ...base, kind, token, result: 'r' }
            : kind === 'retry' ? { ...base, kind, token, error: ERR, retryAt }
            : kind === 'failed' ? { ...base, kind, token, error: ERR }
            : kind === 'snoozed' ? { ...base, kind, token, retryAt }
            : { ...base, kind, token };
          assert.deepEqual(await s.finishJobs({ outcomes: [outcome] }), [true], id);
          const j = (await s.getJob({ id }))!;
          const rule = OUTCOME_RULES[kind];
          assert.equal(j.state, outcomeState(kind), id);
          assert.equal(j.attempts, rule.counts ? 1 : 0, `${id} attempts`);
          assert.equal(j.endedAt !== null, rule.ends, `${id} endedAt`);
          assert.equal(j.history.at(-1)?.outcome, rule.recorded, `${id} history`);
          assert.equal(j.leaseToken, null, `${id} lease cleared`);
          if (kind === 'retry' || kind === 'snoozed') assert.equal(j.runAt, retryAt, `${id} runAt`);
          // The same token again: the job has moved on, so nothing changes.
          assert.deepEqual(await s.finishJobs({ outcomes: [{ ...outcome, at: T0 + 2 }] }), [false], `${id} stale`);
          assert.equal((await s.getJob({ id }))!.state, j.state, `${id} unchanged by a stale outcome`);
        }
      }
    });

    it('outcomes after a cancel request: a retry, snooze or release ends the job cancelled; a completion or failure stands', async () => {
      const seen: StoreEvent[] = [];
      const off = s.subscribe((e) => seen.push(e));
      try {
        const at = T0 + 2;
        const outcomeOf = (kind: OutcomeKind, id: string, token: string): Outcome =>
          kind === 'completed' ? { kind, id, token, at, result: 'r' }
          : kind === 'retry' ? { kind, id, token, at, error: ERR, retryAt: T0 + 1 }
          : kind === 'failed' || kind === 'cancelled' ? { kind, id, token, at, error: ERR }
          : kind === 'snoozed' ? { kind, id, token, at, retryAt: T0 + 1 }
          : { kind, id, token, at };
        // Through finishJobs, and through finishAndClaim where the store has it (a worker's usual call).
        const paths = s.capabilities.finishAndClaim ? ['finish', 'finish-and-claim'] : ['finish'];
        for (const path of paths) {
          for (const kind of OUTCOME_KINDS) {
            const id = `c-${path}-${kind}`;
            await jobIn(s, id, 'active');
            const token = (await s.getJob({ id }))!.leaseToken!;
            // A snooze run before the attempt that meets the request: its record stays as it was.
            if (kind === 'snoozed') {
              await s.finishJobs({ outcomes: [{ kind: 'snoozed', id, token, at: T0 + 1, retryAt: T0 + 1 }] });
              await s.promoteJob({ id, now: T0 + 1 });
              await s.claimJobs({ queues: [`q-${id}`], workerId: 'w', limit: 1, leaseMs: LEASE, now: T0 + 1 });
            }
            const leased = (await s.getJob({ id }))!;
            assert.equal((await s.cancelJob({ id, now: T0 + 1 })).cancelRequested, true, `${id} asked to cancel`);
            // Each with a follow-up job, added only with an outcome applied as sent.
            const outcome = { ...outcomeOf(kind, id, leased.leaseToken!), enqueue: [resolveSpec({ task: 't', queue: 'follow', id: `${id}-f` }, T0)] };
            const answer = path === 'finish'
              ? await s.finishJobs({ outcomes: [outcome] })
              : (await s.capabilities.finishAndClaim!({ outcomes: [outcome], claim: { queues: [`q-${id}`], workerId: 'w', limit: 1, leaseMs: LEASE, now: at } })).applied;
            const j = (await s.getJob({ id }))!;
            if (OUTCOME_RULES[kind].yieldsToCancel) {
              assert.deepEqual(answer, ['cancelled'], id);
              assert.equal(j.state, 'cancelled', id);
              assert.equal(j.attempts, 1, `${id}: the attempt counts`);
              assert.equal(j.endedAt, at, `${id} endedAt`);
              assert.deepEqual({ message: j.error?.message, name: j.error?.name, retryable: j.error?.retryable }, CANCELLED_AT_ATTEMPT_END, `${id} error`);
              assert.deepEqual(j.history.map((h) => h.outcome), kind === 'snoozed' ? ['snoozed', 'cancelled'] : ['cancelled'], `${id} history`);
              assert.equal(j.history.at(-1)!.error, CANCELLED_AT_ATTEMPT_END.message, `${id} history error`);
              assert.equal(j.leaseToken, null, `${id} lease cleared`);
              assert.equal(await s.getJob({ id: `${id}-f` }), null, `${id}: no follow-up of an outcome not applied as sent`);
              await waitFor(() => seen.some((e) => e.jobId === id && e.type === 'cancelled'));
              assert.ok(!seen.some((e) => e.jobId === id && ['retrying', 'queued', 'scheduled'].includes(e.type) && e.at === at), `${id}: no event of the outcome reported`);
              // Nothing of it is left to claim.
              const later = await s.claimJobs({ queues: [`q-${id}`], workerId: 'w2', limit: 1, leaseMs: LEASE, now: T0 + 60_000 });
              assert.equal(later.jobs.length, 0, `${id} never runs again`);
            } else {
              assert.deepEqual(answer, [true], id);
              assert.equal(j.state, outcomeState(kind), `${id}: the outcome stands`);
              assert.ok(await s.getJob({ id: `${id}-f` }), `${id}: its follow-up added`);
            }
          }
        }
      } finally {
        off();
      }
    });

    it('stall recovery: cancel-requested ends cancelled, past the stall limit fails, else back to queued', async () => {
      const cases = [
        { id: 'st-cancel', maxStalls: 3, cancel: true },
        { id: 'st-limit', maxStalls: 0, cancel: false },
        { id: 'st-requeue', maxStalls: 1, cancel: false },
      ];
      for (const c of cases) {
        await s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'stall', id: c.id, maxStalls: c.maxStalls }, T0)], now: T0 });
      }
      await s.claimJobs({ queues: ['stall'], workerId: 'lost', limit: 3, leaseMs: LEASE, now: T0 });
      await s.cancelJob({ id: 'st-cancel', now: T0 + 1 });
      const res = await s.recoverExpiredJobs({ now: T0 + LEASE + 1 });
      for (const c of cases) {
        const j = (await s.getJob({ id: c.id }))!;
        const d = stallDecision({ stalls: 0, maxStalls: c.maxStalls, cancelRequested: c.cancel });
        assert.equal(j.state, d.state, c.id);
        assert.equal(j.stalls, 1, `${c.id} stalls`);
        assert.equal(j.attempts, d.countsAttempt ? 1 : 0, `${c.id} attempts`);
        assert.equal(j.history.at(-1)?.outcome, 'stalled', `${c.id} history`);
        if (d.error) {
          assert.equal(j.error?.message, d.error.message, `${c.id} error`);
          assert.equal(j.error?.name, d.error.name, `${c.id} error name`);
          assert.equal(j.error?.code, d.error.code, `${c.id} error code`);
        }
        const bucket = d.state === 'queued' ? res.requeued : d.state === 'failed' ? res.failed : res.cancelled;
        assert.ok(bucket.includes(c.id), `${c.id} reported as ${d.state}`);
      }
    });
  });
}
