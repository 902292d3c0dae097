// A mail a provider took is not sent again by the job's next run, and a deferred retry still sends
// to the recipients left. The worker that sent it may be gone before the job's outcome (or its
// progress) lands: the lease then runs out and the job runs again. The store here is a real SQLite
// file whose calls for the lost run (progress, outcome, heartbeats) are refused, as a store never
// hears from a dead worker; the providers are a loopback HTTP email API (Postmark's) and a real SMTP
// server in-process, reached through the outgoing guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import type { SmtpProvider } from '../../src/channels/email/providers/smtp.js';
import { losingStore } from '../helpers/store-proxy.js';
import { waitForState } from '../helpers/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { Loop } from './push-fixtures.js';
import { smtpSink } from './email-fixtures.js';

const FAST = { type: 'fixed', delay: 5 } as const;

async function open(store: ReturnType<typeof losingStore>['store'], email: Record<string, unknown>): Promise<Fusion> {
  const fusion = await Fusion.open({ store, config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { email: email as never } } });
  fusion.startMaintenance({ intervalMs: 50 });
  fusion.worker({ queues: ['email'], concurrency: 2, pollMs: 20, leaseMs: 1000, outcomeRetry: { firstMs: 10, maxMs: 50 } });
  return fusion;
}

test('email over an HTTP API: a mail the provider took is not sent again when its run\'s outcome is lost', async () => {
  const api = await new Loop().start();
  let n = 0;
  api.answer = () => ({ body: { MessageID: `pm-${++n}`, ErrorCode: 0, Message: 'OK' } });
  const tmp = tempDir('fusion-email-once-');
  const sqlite = new SqliteStore(join(tmp.dir, 'f.db'));
  const { store, lost } = losingStore(sqlite, { outcome: 'completed' });
  const fusion = await open(store, { providers: { pm: { type: 'postmark', serverToken: 'pm-token', baseUrl: api.base, from: 'lab@lab.example' } }, routes: { default: ['pm'] } });
  try {
    const job = await fusion.enqueue({ task: 'email', payload: { to: 'patient@patient.example', subject: 'Report', text: 'ready' }, maxAttempts: 3, backoff: FAST });
    const done = await waitForState(sqlite, job.id, 'completed', 15_000);
    assert.ok(lost(), 'the first run\'s outcome was refused');
    assert.ok(done.stalls >= 1, `the job ran again after its lease ran out (stalls ${done.stalls})`);
    const sends = api.at('/email').filter((h) => h.json.Metadata.fusion_job_id === job.id);
    assert.equal(sends.length, 1, 'one mail');
    const r = done.result as { provider: string; messageId: string; recipients: unknown };
    assert.deepEqual([r.provider, r.messageId, r.recipients], ['pm', 'pm-1', { to: 1, cc: 0, bcc: 0 }]);
  } finally {
    await fusion.close(200);
    await api.close();
    tmp.remove();
  }
});

/** An SMTP relay and a Fusion on a SQLite file losing one run; `later` refuses its first RCPT TO with a 450. */
async function smtpCase(lose: Parameters<typeof losingStore>[1]) {
  const sink = await smtpSink();
  sink.refuseRcpt('later@clinic.example', 450);
  const tmp = tempDir('fusion-email-once-');
  const sqlite = new SqliteStore(join(tmp.dir, 'f.db'));
  const { store, lost } = losingStore(sqlite, lose);
  const fusion = await open(store, { providers: { relay: { type: 'smtp', host: '127.0.0.1', port: sink.port, requireTLS: false, from: 'lab@lab.example' } }, routes: { default: ['relay'] } });
  const job = await fusion.enqueue({ task: 'email', payload: { to: 'patient@patient.example', cc: 'later@clinic.example', subject: 'Report', text: 'ready' }, maxAttempts: 5, backoff: FAST });
  return {
    sink, lost,
    done: () => waitForState(sqlite, job.id, 'completed', 15_000),
    async close() {
      (fusion.channels.providers!.email!.relay as SmtpProvider).close();
      await fusion.close(200);
      await sink.close();
      tmp.remove();
    },
  };
}

test('email over SMTP, a recipient deferred: the retry that sends to it is not sent again when its outcome is lost', async () => {
  const c = await smtpCase({ outcome: 'completed' });
  try {
    const done = await c.done();
    assert.ok(c.lost(), 'the retry\'s outcome was refused');
    assert.ok(done.stalls >= 1, `the job ran again after its lease ran out (stalls ${done.stalls})`);
    assert.deepEqual(c.sink.received.map((r) => r.rcpt), [['patient@patient.example'], ['later@clinic.example']], 'each recipient got the mail once');
    const r = done.result as { messageId: string; earlierSends: { messageId: string }[] };
    assert.equal(r.messageId, c.sink.received[1]!.mail.messageId, 'the result names the mail the retry sent');
    assert.deepEqual(r.earlierSends.map((s) => s.messageId), [c.sink.received[0]!.mail.messageId]);
  } finally {
    await c.close();
  }
});

test('email over SMTP, a recipient deferred: a run gone before its progress landed is not sent again to those who took it; the deferred one still gets it', async () => {
  const c = await smtpCase({ progress: true });
  try {
    const done = await c.done();
    assert.ok(c.lost(), 'the first run\'s progress was refused');
    assert.ok(done.stalls >= 1, `the job ran again after its lease ran out (stalls ${done.stalls})`);
    assert.deepEqual(c.sink.received.map((r) => r.rcpt), [['patient@patient.example'], ['later@clinic.example']], 'each recipient got the mail once');
    const r = done.result as { messageId: string; earlierSends: { messageId: string; recipients: number }[] };
    assert.equal(r.messageId, c.sink.received[1]!.mail.messageId);
    assert.deepEqual(r.earlierSends.map((s) => [s.messageId, s.recipients]), [[c.sink.received[0]!.mail.messageId, 1]]);
  } finally {
    await c.close();
  }
});
