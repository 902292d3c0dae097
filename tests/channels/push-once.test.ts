// What a push job's next run sends when a run's outcome or progress is lost (its worker gone, its
// lease run out). Each device's outcome is kept in the job's progress, written when an attempt ends,
// before its outcome: a run whose outcome is lost sends no device again; a run gone before its
// progress landed sends its devices again (at least once, docs/channels.md). A real SQLite file whose
// calls for the lost run are refused, and a loopback server playing FCM through the outgoing guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { TokenResult } from '../../src/channels/push/message.js';
import { losingStore } from '../helpers/store-proxy.js';
import { waitForState } from '../helpers/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { FCM_TOKEN, Loop, serviceAccount } from './push-fixtures.js';

async function pushCase(lose: Parameters<typeof losingStore>[1]) {
  const fcm = await new Loop().start();
  const { account } = serviceAccount(`${fcm.base}/token`);
  const tokens = [1, 2, 3].map(FCM_TOKEN);
  // The second device is unavailable once: the first attempt fails retryably for it alone.
  let flaky = 0;
  const accepted = new Map<string, number>();
  fcm.answer = (hit) => {
    if (hit.path === '/token') return { body: { access_token: 'ya29.x', expires_in: 3600 } };
    const tok = hit.json.message.token as string;
    if (tok === tokens[1] && flaky++ === 0) return { status: 503, body: { error: { status: 'UNAVAILABLE', message: 'try later' } } };
    accepted.set(tok, (accepted.get(tok) ?? 0) + 1);
    return { body: { name: `projects/fusion-test/messages/${tokens.indexOf(tok) + 1}` } };
  };
  const tmp = tempDir('fusion-push-once-');
  const sqlite = new SqliteStore(join(tmp.dir, 'f.db'));
  const { store, lost } = losingStore(sqlite, lose);
  const fusion = await Fusion.open({ store, config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { push: { providers: { fcm: { type: 'fcm', serviceAccount: account, baseUrl: fcm.base } } } } } });
  fusion.startMaintenance({ intervalMs: 50 });
  fusion.worker({ queues: ['pn'], concurrency: 2, pollMs: 20, leaseMs: 1000, outcomeRetry: { firstMs: 10, maxMs: 50 } });
  const job = await fusion.enqueue({ task: 'push', payload: { tokens, platform: 'android', title: 'Results', body: 'ready' }, maxAttempts: 5, backoff: { type: 'fixed', delay: 5 } });
  return {
    lost,
    done: () => waitForState(sqlite, job.id, 'completed', 15_000),
    /** How many times FCM answered 200 for each device, in token order. */
    accepted: () => tokens.map((t) => accepted.get(t) ?? 0),
    async close() {
      await fusion.close(200);
      await fcm.close();
      tmp.remove();
    },
  };
}

test('push: a run whose outcome is lost sends no device again (their outcomes are in the progress it stored)', async () => {
  const c = await pushCase({ outcome: 'completed' });
  try {
    const done = await c.done();
    assert.ok(c.lost(), 'the completing run\'s outcome was refused');
    assert.ok(done.stalls >= 1, `the job ran again after its lease ran out (stalls ${done.stalls})`);
    assert.deepEqual(c.accepted(), [1, 1, 1], 'FCM took each device\'s notification once');
    const r = done.result as { sent: number; results: TokenResult[] };
    assert.equal(r.sent, 3);
    assert.deepEqual(r.results.map((x) => [x.status, x.attempt]), [['sent', 1], ['sent', 2], ['sent', 1]]);
  } finally {
    await c.close();
  }
});

test('push: a run gone before its progress landed: its devices are sent again by the next run (at least once)', async () => {
  const c = await pushCase({ progress: true });
  try {
    const done = await c.done();
    assert.ok(c.lost(), 'the first run\'s progress was refused');
    assert.deepEqual(c.accepted(), [2, 1, 2], 'the devices the lost run sent get the notification again; the flaky one, sent by no lost run, once');
    assert.equal((done.result as { sent: number }).sent, 3);
  } finally {
    await c.close();
  }
});
