// Channel tasks wait in their own queues from any route, before their handlers exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json } from './helpers.js';

test('POST /v1/jobs puts each channel task on its channel queue, as /queue/ does', async () => {
  const api = await startApi();
  try {
    const want = { sms: 'sms', email: 'email', push: 'pn', webhook: 'webhook', whatsapp: 'whatsapp' };
    for (const [task, queue] of Object.entries(want)) {
      const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task, payload: task === 'webhook' ? { url: 'https://example.com/hook' } : {} } });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(json(r).queue, queue, task);
    }
    const explicit = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'otp', payload: {} } });
    assert.equal(json(explicit).queue, 'otp');
  } finally {
    await api.close();
  }
});

test('a delay past what a Date can hold is a 400 naming delay, not a 500 (found by the fuzz test)', async () => {
  const api = await startApi();
  try {
    for (const [url, body] of [
      ['/api/tasks', { task_type: 'email_sending', parameters: {}, delay: 8638204568161.472 }],
      ['/schedule/', { payload: { task: 1, contact: 1, message: 'x' }, delay: 1e300 }],
    ] as const) {
      const r = await api.call({ method: 'POST', url, payload: body });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.equal(json(r).error.details.field, 'delay');
      assert.match(json(r).error.message, /too far in the future/);
    }
  } finally {
    await api.close();
  }
});
