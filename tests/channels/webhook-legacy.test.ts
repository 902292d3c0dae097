// A webhook posted on the original /queue/ route (task 4) runs as the original worker ran it, and a
// bad webhook payload is a 400 naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json } from '../api/helpers.js';
import { waitForState } from '../helpers/engine.js';
import { receiver } from './webhook-server.js';

test('/queue/ task 4: method as given (any case), data as query, args by isBody, callback: 1 and the original handlers', async () => {
  const hook = await receiver((_h, res) => res.writeHead(200).end('accepted'));
  const api = await startApi({ channels: true }); // its Fusion allows 127.0.0.1 (LOOPBACK_ALLOWED)
  try {
    api.fusion.worker({ queues: ['webhook', 'callbacks'], concurrency: 4 });
    const post = (payload: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 4, ...payload }, priority: 1, task_type: 'HOOK', ...extra } });
    const get = await post({ url: `${hook.base}/get`, method: 'get', data: { id: 7 } });
    assert.equal(get.statusCode, 200, get.body);
    const form = await post(
      { url: `${hook.base}/form`, args: { a: 'b' }, isBody: '0', callback: 1, callback_url: `${hook.base}/cb` },
      { success_task_handler: `${hook.base}/handler` },
    );
    assert.equal(form.statusCode, 200, form.body);
    const g = await waitForState(api.fusion.store, json(get).job_id, ['completed', 'failed']);
    assert.equal(g.state, 'completed', JSON.stringify(g.error));
    const f = await waitForState(api.fusion.store, json(form).job_id, ['completed', 'failed']);
    assert.equal(f.state, 'completed', JSON.stringify(f.error));
    await waitForState(api.fusion.store, (f.result as { callback: { jobId: string } }).callback.jobId, 'completed');
    await waitForState(api.fusion.store, `${f.id}:completed-callback`, 'completed');
    const at = (path: string) => hook.hits.find((h) => h.url.split('?')[0] === path)!;
    assert.equal(at('/get').method, 'GET');
    assert.equal(at('/get').url, '/get?id=7');
    assert.equal(at('/form').method, 'POST', 'the legacy route defaults the method to POST');
    assert.equal(at('/form').body, 'a=b');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(at('/cb').body)), { resp: 'accepted', status_code: '200' });
    assert.equal(new URLSearchParams(at('/handler').body).get('status'), 'finished');

    const bad = await post({ url: `${hook.base}/x`, method: 'TRACE' });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(json(bad).error.details.field, 'payload.method');
  } finally {
    await api.close();
    await hook.close();
  }
});
