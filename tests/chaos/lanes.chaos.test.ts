// Chaos: an OTP behind a partner's webhook endpoint that hangs and a backlog of another queue, in
// `npm start`'s shape (`fusion start`: API, worker and maintenance in one process). Thirty webhooks
// go to a loopback endpoint that accepts and never answers (3 s timeout each; one attempt each, and a
// last attempt is always tried, so the breaker per host lets every one hold its slot), 2,000 jobs of 20 ms
// pile up on `default`, then OTP SMS come. Every queue is a lane of its own (src/cli/lanes.ts), so
// the OTPs start at once. The control serves every queue in one lane, as `fusion start` did before:
// the hanging webhooks hold all its slots and `default` is drained before `sms`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { receiver } from '../channels/webhook-server.js';
import { call, settled, spawnHub, writeConfig, type HubProcess } from '../e2e/hub.js';
import { STORES, report, type StoreFactory } from '../helpers/chaos.js';
import { REPORT_MS } from '../helpers/backlog-tasks.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));
const TASKS = join(process.cwd(), 'dist/tests/helpers/backlog-tasks.js');
const HANG_S = 3;
const WEBHOOKS = 30;
const BACKLOG = 2000;
const OTPS = 3;
const CONCURRENCY = 10;
/** Every queue `fusion start` knows here, in the order it used to drain them in one lane. */
const ONE_LANE = ['default', 'callbacks', 'sms', 'email', 'pn', 'webhook', 'whatsapp', 'reminders'].join('+');

/** `fusion start` on a store, a hanging partner endpoint, a backlog, then OTPs: each OTP's wait to start (ms). */
async function otpWaits(factory: StoreFactory, lanes: 'default' | 'one lane'): Promise<number[]> {
  const t = await factory.create();
  const partner = await receiver(() => {}); // accepts every request and never answers
  let hub: HubProcess | undefined;
  try {
    const config = writeConfig(t.dir, { outgoing: { allow: ['127.0.0.1/32'] } });
    hub = await spawnHub('start', ['--config', config, '--store', t.url, '--port', '0', '--tasks', TASKS, '--concurrency', String(CONCURRENCY),
      '--consent-file', join(t.dir, 'consent.jsonl'), ...(lanes === 'one lane' ? ['--queues', ONE_LANE] : [])]);
    for (let k = 0; k < WEBHOOKS; k++) {
      const r = await call(hub.base, 'POST', '/v1/jobs', { task: 'webhook', payload: { url: `${partner.base}/hook`, method: 'POST', timeout: HANG_S, data: { k } }, maxAttempts: 1 });
      assert.equal(r.status, 201, r.text);
    }
    await partner.hit(CONCURRENCY); // every slot the webhooks may take is waiting on the partner
    for (let k = 0; k < BACKLOG; k += 1000) {
      const jobs = Array.from({ length: 1000 }, () => ({ task: 'report', payload: {} }));
      const r = await call(hub.base, 'POST', '/v1/jobs/bulk', { jobs });
      assert.equal(r.status, 201, r.text);
    }
    const waits: number[] = [];
    for (let k = 0; k < OTPS; k++) {
      const r = await call(hub.base, 'POST', '/v1/jobs', { task: 'sms', payload: { to: '+919876543210', text: `Your OTP is ${4711 + k}`, otp: true }, priority: 'high' });
      assert.equal(r.status, 201, r.text);
      const job = await settled(hub.base, r.json.id, 60_000);
      assert.equal(job.state, 'completed', JSON.stringify(job.error));
      waits.push(Date.parse(job.history[0].startedAt) - Date.parse(job.createdAt));
    }
    report({ test: 'otp-behind-hanging-partner', store: t.store, lanes, concurrency: CONCURRENCY, webhooks: WEBHOOKS, hangMs: HANG_S * 1000, backlog: BACKLOG, backlogJobMs: REPORT_MS, otpWaitMs: waits, partnerRequests: partner.hits.length });
    return waits;
  } finally {
    await hub?.stop();
    await partner.close();
    await t.cleanup();
  }
}

describe('chaos: an OTP behind a hanging partner endpoint and another queue\'s backlog (`fusion start`)', () => {
  STORES.forEach((factory, i) => {
    it(`${factory.name}: every queue its own lane: the OTPs start before any hanging webhook times out`, { skip: skips[i] }, async () => {
      const waits = await otpWaits(factory, 'default');
      for (const w of waits) assert.ok(w < (HANG_S * 1000) / 3, `an OTP waited ${w} ms to start (waits ${waits.join(', ')} ms)`);
    });
  });

  it('sqlite, the control: every queue in one lane: the first OTP waits for a hanging webhook to time out, then for the backlog', async () => {
    const waits = await otpWaits(STORES.find((f) => f.name === 'sqlite')!, 'one lane');
    assert.ok(waits[0]! >= (HANG_S * 1000) / 2, `the first OTP waited ${waits[0]} ms (waits ${waits.join(', ')} ms)`);
  });
});
