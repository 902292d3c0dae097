// Chaos in push delivery: notifications of several devices each through the fcm provider (FCM HTTP v1,
// with its OAuth exchange) to a loopback server playing FCM. For a while the server answers 503, 429
// with Retry-After, 500 and drops connections, in turns, per request; one device of each job is
// unregistered (404 UNREGISTERED). Every live device gets its notification exactly once (one 200 per
// device, counted at the server: a device is never sent again once FCM took it, whatever its job's
// other devices did), every unregistered one is asked once and listed as invalid, every job completes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Fusion } from '../../src/fusion.js';
import { until } from '../helpers/await.js';
import { STORES, allJobs, report, size } from '../helpers/chaos.js';
import { FCM_TOKEN, serviceAccount } from '../channels/push-fixtures.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));

type Mode = 'ok' | '503' | '429' | '500' | 'drop';
const FAULTS: Mode[] = ['503', 'ok', '429', 'drop', '500', 'ok'];
const SEND = '/v1/projects/fusion-test/messages:send';
const DEVICES = 4;

/** A loopback FCM: OAuth tokens, and sends answered by `mode()`; counts answers per device token. */
async function fcmStandIn(mode: () => Mode, unregistered: (token: string) => boolean) {
  const answered = new Map<string, number[]>(); // token → the statuses it was answered
  const seen: Record<Mode, number> = { ok: 0, '503': 0, '429': 0, '500': 0, drop: 0 };
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (req.url === '/token') return json(200, { access_token: 'ya29.chaos', expires_in: 3599, token_type: 'Bearer' });
      if (req.url !== SEND) return json(404, { error: { status: 'NOT_FOUND' } });
      const token = (JSON.parse(data) as { message: { token: string } }).message.token;
      const m = mode();
      seen[m]++;
      if (m === 'drop') return void req.socket.destroy();
      const status = m === 'ok' ? (unregistered(token) ? 404 : 200) : Number(m);
      answered.set(token, [...(answered.get(token) ?? []), status]);
      if (m === '503') return json(503, { error: { status: 'UNAVAILABLE', message: 'try later' } });
      if (m === '429') return json(429, { error: { status: 'RESOURCE_EXHAUSTED', message: 'slow down' } }, { 'retry-after': '1' });
      if (m === '500') return json(500, { error: { status: 'INTERNAL', message: 'oops' } });
      if (status === 404) return json(404, { error: { status: 'NOT_FOUND', message: 'gone', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } });
      json(200, { name: `projects/fusion-test/messages/m-${token.length}-${answered.size}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    answered, seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

STORES.forEach((factory, i) => {
  describe(`chaos: push delivery faults on ${factory.name}`, { skip: skips[i] }, () => {
    it('FCM answering 503, 429, 500 and dropping connections in turns: every live device notified exactly once, every unregistered one listed', async () => {
      const t = await factory.create();
      const N = size(150, 2000);
      const FAULT_MS = size(3000, 60_000);
      let faultUntil = Infinity;
      let turn = 0;
      const token = (job: number, device: number) => FCM_TOKEN(job * DEVICES + device);
      const isUnregistered = (tok: string) => Number(/^fcm-token-(\d+):/.exec(tok)![1]) % DEVICES === DEVICES - 1;
      const fcm = await fcmStandIn(() => (Date.now() < faultUntil ? FAULTS[turn++ % FAULTS.length]! : 'ok'), isUnregistered);
      const { account } = serviceAccount(`${fcm.base}/token`);
      const fusion = await Fusion.open({
        store: t.url,
        config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { push: { providers: { fcm: { type: 'fcm', serviceAccount: account, baseUrl: fcm.base } } } } },
      });
      const started = Date.now();
      try {
        faultUntil = started + FAULT_MS;
        fusion.worker({ queues: ['pn'], concurrency: 16, pollMs: 25, leaseMs: 30_000 });
        // Attempts enough to outlast the faults at 50 ms apart (429s ask for a second).
        for (let k = 0; k < N; k += 50) {
          await Promise.all(Array.from({ length: Math.min(50, N - k) }, (_, j) => fusion.enqueue('push',
            { tokens: Array.from({ length: DEVICES }, (_, d) => ({ platform: 'android', token: token(k + j, d) })), title: 'Report ready', body: `chaos ${k + j}` },
            { maxAttempts: 1000, backoff: { type: 'fixed', delay: 50 } })));
        }
        await until(async () => {
          const c = (await fusion.store.countJobs({ queue: 'pn' })).pn!;
          return c.completed + c.failed === N;
        }, FAULT_MS + size(60_000, 120_000), async () => `all ${N} notifications settled: ${JSON.stringify((await fusion.store.countJobs({ queue: 'pn' })).pn)}`, 100);
        const jobs = await allJobs(fusion.store, 'pn');
        const completed = jobs.filter((j) => j.state === 'completed');
        const problems: string[] = [];
        let wrongDevices = 0;
        let liveDevices = 0;
        for (let k = 0; k < N; k++) {
          for (let d = 0; d < DEVICES; d++) {
            const tok = token(k, d);
            const statuses = fcm.answered.get(tok) ?? [];
            const final = isUnregistered(tok) ? 404 : 200;
            if (!isUnregistered(tok)) liveDevices++;
            // Exactly one final answer per device (retries only after a fault answer), none after it.
            if (statuses.filter((s) => s === final).length !== 1 || statuses.at(-1) !== final) {
              wrongDevices++;
              if (problems.length < 5) problems.push(`${tok}: ${statuses.join(',')}`);
            }
          }
        }
        const retried = completed.filter((j) => j.attempts > 1).length;
        // The case that matters: a job retried for some devices after FCM took others at an earlier attempt.
        const sentBeforeLastAttempt = completed.filter((j) =>
          (j.result as { results: { status: string; attempt: number }[] }).results.some((r) => r.status === 'sent' && r.attempt < j.attempts)).length;
        report({
          test: 'push-faults', store: t.store, jobs: N, acknowledged: N, completed: completed.length, lost: N - completed.length,
          devices: N * DEVICES, liveDevices, devicesNotExactlyOnce: wrongDevices, duplicateExecutions: wrongDevices, retriedJobs: retried, sentBeforeLastAttempt,
          served: fcm.seen, faultMs: FAULT_MS, drainedAfterFaultMs: Math.max(...completed.map((j) => j.endedAt!)) - faultUntil,
        });
        assert.equal(completed.length, N, `every job completed (${jobs.filter((j) => j.state !== 'completed').map((j) => j.error?.message).slice(0, 3).join('; ')})`);
        assert.deepEqual(problems, [], 'every device answered 200 (or 404 UNREGISTERED) exactly once, and last');
        for (const j of completed) {
          const r = j.result as { sent: number; invalid: number; invalidTokens: string[] };
          assert.deepEqual([r.sent, r.invalid], [DEVICES - 1, 1], j.id);
          assert.equal(r.invalidTokens.length, 1);
          assert.ok(isUnregistered(r.invalidTokens[0]!), `${j.id}: the unregistered device is the one listed`);
        }
        assert.ok(retried > 0, 'jobs were retried: the faults bit');
        assert.ok(sentBeforeLastAttempt > 0, 'some job was retried for devices after others had been sent');
        for (const m of ['503', '429', '500', 'drop'] as const) assert.ok(fcm.seen[m] > 0, `the stand-in played ${m}`);
      } finally {
        faultUntil = 0;
        await fusion.close(500);
        await fcm.close();
        await t.cleanup();
      }
    });
  });
});
