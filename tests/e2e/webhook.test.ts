// Webhooks end to end, as a user runs the hub: the original task-4 body with `callback: 1` on POST
// /queue/ → the target receives the request → the callback URL receives { resp, status_code } →
// /jobInfo/ finished with the answer's status in the result. SQLite: one `fusion start`; Redis
// (random prefix): `fusion server` + `fusion worker`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { receiver } from '../channels/webhook-server.js';
import { within } from '../helpers/await.js';
import { redisSkip } from '../helpers/redis.js';
import { call, settled, spawnHub, teardown, testStore, writeConfig, type HubProcess, type StoreKind } from './hub.js';

async function webhookEndToEnd(kind: StoreKind): Promise<void> {
  const store = await testStore(kind);
  // The target answers 202 with a body; the callback receiver answers 200.
  const target = await receiver((_h, res) => res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true,"ref":"T-1"}'));
  const cb = await receiver((_h, res) => res.writeHead(200).end('ok'));
  let hubs: HubProcess[] = [];
  try {
    const config = writeConfig(store.dir, { outgoing: { allow: ['127.0.0.1/32'] } });
    const common = ['--config', config, '--store', store.url, '--consent-file', `${store.dir}/consent.jsonl`, '--port', '0'];
    if (kind === 'sqlite') {
      hubs = [await spawnHub('start', common)];
    } else {
      hubs = [await spawnHub('worker', ['--config', config, '--store', store.url])];
      hubs.push(await spawnHub('server', common));
    }
    const api = hubs.at(-1)!;

    const r = await call(api.base, 'POST', '/queue/', {
      payload: {
        task: 4, url: `${target.base}/orders/hook?src=fusion`, method: 'post', data: { order: 42 },
        args: { orderId: 42, status: 'paid' }, isBody: 1, headers: { 'X-Client': 'crelio' },
        callback: 1, callback_url: `${cb.base}/fusion/callback`,
      },
      task_type: 'ORDER_HOOK',
    });
    assert.equal(r.status, 200, r.text);
    const id = r.json.job_id as string;

    const hit = await within(target.hit(1), 20_000, 'the webhook reaches its target');
    assert.equal(hit.method, 'POST');
    assert.equal(hit.url, '/orders/hook?src=fusion&order=42', 'data is appended to the query');
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers['x-client'], 'crelio');
    assert.deepEqual(JSON.parse(hit.body), { orderId: 42, status: 'paid' });

    const back = await within(cb.hit(1), 20_000, 'the callback arrives');
    assert.equal(back.method, 'POST');
    assert.equal(back.url, '/fusion/callback');
    assert.equal(back.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(back.body)), { resp: '{"accepted":true,"ref":"T-1"}', status_code: '202' });

    const job = await settled(api.base, id);
    assert.equal(job.state, 'completed', JSON.stringify(job.error));
    const info = await call(api.base, 'POST', '/jobInfo/', { job_id: id });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.json.status, 'finished');
    assert.equal(info.json.task, 'webhook');
    assert.equal(info.json.task_type, 'ORDER_HOOK');
    assert.equal(info.json.result.status, 202);
    assert.equal(info.json.result.body, '{"accepted":true,"ref":"T-1"}');
    // The callback ran as its own job, which finished with the receiver's status.
    const cbJob = await settled(api.base, info.json.result.callback.jobId);
    assert.equal(cbJob.state, 'completed', JSON.stringify(cbJob.error));
    assert.equal(cbJob.result.status, 200);
    assert.equal(target.hits.length, 1, 'the webhook was sent once');
    assert.equal(cb.hits.length, 1, 'the callback was sent once');
  } finally {
    await teardown(hubs, store);
    await target.close();
    await cb.close();
  }
}

describe('e2e webhook: /queue/ task 4 with callback: 1', () => {
  it('on SQLite, one `fusion start` process', () => webhookEndToEnd('sqlite'));
  it('on Redis (random prefix), `fusion server` + `fusion worker`', async (t) => {
    const skip = await redisSkip();
    if (skip) return t.skip(skip);
    await webhookEndToEnd('redis');
  });
});
