// `fusion worker` with no --queues serves every channel's queue: an sms job and a webhook job,
// enqueued through another process (`fusion server`), complete. No provider is configured, so the
// sms job completes in dry-run; a webhook has no provider (it goes to the URL it names), so it is
// delivered to a loopback receiver the config allows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { receiver } from '../channels/webhook-server.js';
import { redisSkip } from '../helpers/redis.js';
import { call, settled, spawnHub, teardown, testStore, writeConfig, type HubProcess, type StoreKind } from './hub.js';

async function defaultQueues(kind: StoreKind): Promise<void> {
  const store = await testStore(kind);
  const hook = await receiver((_h, res) => res.writeHead(200).end('got it'));
  const hubs: HubProcess[] = [];
  try {
    const config = writeConfig(store.dir, { outgoing: { allow: ['127.0.0.1/32'] } });
    // SQLite across processes: the worker sees the other process's enqueues by watching the file.
    const storeUrl = kind === 'sqlite' ? `${store.url}?watchMs=20` : store.url;
    const worker = await spawnHub('worker', ['--config', config, '--store', storeUrl]);
    hubs.push(worker);
    const served = JSON.parse(worker.output().split('\n').find((l) => l.includes('"msg":"worker running"'))!).queues as string[];
    for (const q of ['sms', 'webhook']) assert.ok(served.includes(q), `the worker serves ${q}: ${served}`);
    const dry = await worker.line((l) => String(l.msg).startsWith('channels in dry-run'), 'the dry-run channels');
    assert.ok(dry.channels.includes('sms'), `sms runs dry: ${dry.msg}`);

    const api = await spawnHub('server', ['--config', config, '--store', storeUrl, '--port', '0', '--consent-file', `${store.dir}/consent.jsonl`]);
    hubs.push(api);
    const sms = await call(api.base, 'POST', '/v1/jobs', { task: 'sms', payload: { to: '+919876543210', text: 'Your OTP is 4711', otp: true }, priority: 'high' });
    assert.equal(sms.status, 201, sms.text);
    const hookJob = await call(api.base, 'POST', '/queue/', { payload: { task: 4, url: `${hook.base}/ping`, method: 'GET', data: { n: 1 } } });
    assert.equal(hookJob.status, 200, hookJob.text);

    const s = await settled(api.base, sms.json.id);
    assert.equal(s.state, 'completed', JSON.stringify(s.error));
    assert.equal(s.queue, 'sms');
    assert.equal(s.result.provider, 'dry-run');
    assert.match(s.result.messageId, /^dry-/);
    const w = await settled(api.base, hookJob.json.job_id);
    assert.equal(w.state, 'completed', JSON.stringify(w.error));
    assert.equal(w.queue, 'webhook');
    assert.equal(w.result.status, 200);
    assert.equal(hook.hits.length, 1);
    assert.equal(hook.hits[0]!.url, '/ping?n=1');
    // The worker process did the work and said so in the original worker's log fields.
    const sent = await worker.line((l) => String(l.msg).startsWith('dry-run: sms not sent'), 'the dry-run send');
    assert.equal(sent.to.includes('9876543210'), false, 'the number is masked');
    assert.equal(sent.text.includes('4711'), false, 'the code is masked');
    await worker.line((l) => l.job_id === s.id && l.status === 'completed' && l.task === 'SMS', 'the sms attempt log');
    await worker.line((l) => l.job_id === w.id && l.status === 'completed' && l.task === 'WEBHOOK', 'the webhook attempt log');
  } finally {
    await teardown(hubs, store);
    await hook.close();
  }
}

describe('e2e: fusion worker with no --queues', () => {
  it('on SQLite: serves sms and webhook jobs another process enqueued', () => defaultQueues('sqlite'));
  it('on Redis (random prefix): the same', async (t) => {
    const skip = await redisSkip();
    if (skip) return t.skip(skip);
    await defaultQueues('redis');
  });
});
