// Jobs posted on the original /queue/ route call their handlers back exactly as the original
// worker did: form fields description, job_id, status, retry_attempts | failure_trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NonRetryableError, RetryableError } from '../../src/core/errors.js';
import { waitForState } from '../helpers/engine.js';
import { startApi, json } from './helpers.js';

test('/queue/ success and failure handlers receive the original form fields', async () => {
  const hits: { path: string; type: string; body: URLSearchParams }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hits.push({ path: req.url!, type: String(req.headers['content-type']), body: new URLSearchParams(body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let calls = 0;
  const api = await startApi({
    setup: (f) => {
      f.task('sms', async (p: { contact: number }) => {
        if (p.contact === 0) throw new NonRetryableError('invalid contact 0'); // the number as sent, not coerced to a string
        if (++calls === 1) throw new RetryableError('gateway busy', 0);
        return { sid: 'SM1' };
      }, { queue: 'sms' });
    },
  });
  try {
    api.fusion.worker({ queues: ['sms', 'callbacks'], concurrency: 4 });
    const post = (contact: number) => api.call({
      method: 'POST', url: '/queue/',
      payload: { payload: { task: 1, contact, countryCode: 91, message: 'OTP 1' }, priority: 2, task_type: 'OTP',
        success_task_handler: `${base}/ok`, failed_task_handler: `${base}/ko` },
    });
    const good = json(await post(9876543210)).job_id;
    const bad = json(await post(0)).job_id;
    await waitForState(api.fusion.store, `${good}:completed-callback`, 'completed');
    await waitForState(api.fusion.store, `${bad}:failed-callback`, 'completed');
    const ok = hits.find((h) => h.path === '/ok')!;
    assert.equal(ok.type, 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(ok.body), { description: 'SMS OTP', job_id: good, status: 'finished', retry_attempts: '1' });
    const ko = hits.find((h) => h.path === '/ko')!;
    assert.deepEqual(Object.fromEntries(ko.body), { description: 'SMS OTP', job_id: bad, status: 'failed', failure_trace: 'invalid contact 0' });
    assert.equal(hits.length, 2);
  } finally {
    await api.close();
    server.close();
  }
});
