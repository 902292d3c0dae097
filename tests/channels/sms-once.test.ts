// A message the provider answered 2xx is not sent again by the job's next run. The worker that sent
// it may be gone before the job's outcome lands (killed right after the answer, its store connection
// lost): the lease then runs out and the job runs again. The store here is a real SQLite file whose
// outcome calls for the first run are refused, as a store never hears from a dead worker; the
// provider is a loopback server reached through the outgoing guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { Lease, Outcome } from '../../src/core/store.js';
import { interceptStore } from '../helpers/store-proxy.js';
import { waitForState } from '../helpers/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { NUM, ProviderServer, loopFactory } from './sms-fixtures.js';

test('sms: a send answered 2xx is not sent again when its attempt\'s outcome is lost (the worker gone right after the answer)', async () => {
  const srv = await new ProviderServer().start();
  const tmp = tempDir('fusion-sms-once-');
  const sqlite = new SqliteStore(join(tmp.dir, 'f.db'));
  // The first run's outcome never lands, nor do its heartbeats after it: every call carrying its
  // lease token is refused, so its lease runs out as a dead worker's does.
  let lostToken: string | null = null;
  const gone = () => Promise.reject(new Error('store unreachable: the worker is gone'));
  const isOutcomeCall = (k: string) => k === 'finishJobs' || k === 'capabilities.finishAndClaim';
  const store = interceptStore(sqlite, (name, call) => {
    if (name === 'heartbeatJobs') return (...args: unknown[]) => ((args[0] as { leases: Lease[] }).leases.some((l) => l.token === lostToken) ? gone() : call(...args));
    if (!isOutcomeCall(name)) return undefined;
    return (...args: unknown[]) => {
      const outcomes = (args[0] as { outcomes: Outcome[] }).outcomes;
      lostToken ??= outcomes.find((o) => o.kind === 'completed')?.token ?? null;
      return outcomes.some((o) => o.token === lostToken) ? gone() : call(...args);
    };
  });
  const fusion = await Fusion.open({
    store,
    config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { sms: { providers: { a: { type: 'loop', url: srv.url('/a') }, b: { type: 'loop', url: srv.url('/b') } }, routes: { default: ['a', 'b'] } } } },
    providers: [loopFactory],
  });
  try {
    fusion.startMaintenance({ intervalMs: 50 });
    fusion.worker({ queues: ['sms'], concurrency: 2, pollMs: 20, leaseMs: 1000, outcomeRetry: { firstMs: 10, maxMs: 50 } });
    const job = await fusion.enqueue({ task: 'sms', payload: { to: NUM.uk, text: 'your parcel is on its way' } });
    const done = await waitForState(sqlite, job.id, 'completed', 15_000);
    assert.ok(lostToken, 'the first run\'s outcome was refused');
    assert.ok(done.stalls >= 1, `the job ran again after its lease ran out (stalls ${done.stalls})`);
    const sends = srv.received.filter((r) => r.body.jobId === job.id);
    assert.deepEqual(sends.map((r) => r.path), ['/a'], 'one send, to the provider that took it');
    const result = done.result as { provider: string; messageId: string };
    assert.equal(result.provider, 'a');
    assert.match(result.messageId, /^msg-1-/, 'the result names the message the provider took');
  } finally {
    await fusion.close(200);
    await srv.close();
    tmp.remove();
  }
});
