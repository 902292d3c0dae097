// The webhook channel against real loopback receivers (allowlisted), through a real Fusion on SQLite:
// the exact request the original sent, Standard Webhooks signatures (checked with the independent
// `standardwebhooks` package), retry classification, `callback: 1` and the integration callback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { Fusion } from '../../src/fusion.js';
import type { Job } from '../../src/core/job.js';
import type { SqliteStore } from '../../src/stores/sqlite/store.js';
import { FusionError } from '../../src/core/errors.js';
import { WebhookSigner } from '../../src/channels/http/signing.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { receiver, type Hit, type Receiver } from './webhook-server.js';
import { until, within } from '../helpers/await.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST_RETRY = { backoff: { type: 'fixed' as const, delay: 20 } };

/** Verifies a hit's signature with the standardwebhooks package; returns its webhook-id. */
function verified(hit: Hit): string {
  new Webhook(SECRET).verify(hit.body, hit.headers as Record<string, string>, { jsonParse: false });
  return String(hit.headers['webhook-id']);
}

describe('webhook channel', () => {
  let fusion: Fusion;
  let store: SqliteStore;
  let cleanup: () => Promise<void>;
  /** Per-test answers, keyed by the request's path. */
  const answers = new Map<string, (hit: Hit, res: ServerResponse, n: number) => void>();
  let main: Receiver;
  let cb: Receiver;

  const done = (job: Job) => waitForState(store, job.id, ['completed', 'failed']);
  const hitsOn = (r: Receiver, path: string) => r.hits.filter((h) => h.url.split('?')[0] === path);

  before(async () => {
    const route = (hit: Hit, res: ServerResponse, n: number) => {
      const answer = answers.get(hit.url.split('?')[0]!);
      if (answer) answer(hit, res, n);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${hit.method}`);
    };
    main = await receiver(route);
    cb = await receiver(route);
    ({ fusion, store, cleanup } = await sqliteFusion(undefined, {
      outgoing: { allow: ['127.0.0.1/32'] },
      channels: { webhook: { signingSecret: SECRET, timeoutSeconds: 5 } },
    }));
    fusion.worker({ queues: ['webhook', 'callbacks', 'default'], concurrency: 8 });
  });
  after(async () => {
    await cleanup();
    await main.close();
    await cb.close();
  });

  it('GET sends data as the query string (kept after the URL\'s own), the headers, and a verifiable signature', async () => {
    const job = await fusion.enqueue('webhook', {
      url: `${main.base}/get?fixed=1`, method: 'GET', data: { q: 'a b&c', n: 5, flag: true, tags: ['x', 'y'], none: null },
      headers: { Authorization: 'Bearer t0k', 'X-Trace': 'abc' },
    });
    const j = await done(job);
    assert.equal(j.state, 'completed', JSON.stringify(j.error));
    const [hit] = hitsOn(main, '/get');
    assert.equal(hit!.method, 'GET');
    assert.equal(hit!.url, '/get?fixed=1&q=a+b%26c&n=5&flag=True&tags=x&tags=y');
    assert.equal(hit!.body, '');
    assert.equal(hit!.headers.authorization, 'Bearer t0k');
    assert.equal(hit!.headers['x-trace'], 'abc');
    assert.equal(verified(hit!), job.id, 'webhook-id is the job id');
    const result = j.result as { status: number; body: string; headers: Record<string, string> };
    assert.equal(result.status, 200);
    assert.equal(result.body, 'ok GET');
    assert.equal(result.headers['content-type'], 'text/plain');
  });

  it('POST with isBody 1 (number or "1") sends args as JSON; with 0 (or absent) as a form', async () => {
    const args = { name: 'Asha', n: 2, nested: { ok: true } };
    const json1 = await fusion.enqueue('webhook', { url: `${main.base}/json`, method: 'POST', args, isBody: 1 });
    const json2 = await fusion.enqueue('webhook', { url: `${main.base}/json`, method: 'POST', args, isBody: '1', headers: { 'Content-Type': 'application/vnd.x+json' } });
    const form1 = await fusion.enqueue('webhook', { url: `${main.base}/form`, method: 'POST', args: { name: 'Asha B', ok: false, list: [1, 2] }, isBody: 0, data: { via: 'q' } });
    const form2 = await fusion.enqueue('webhook', { url: `${main.base}/form`, args: { a: '1' }, isBody: '0' }); // method defaults to POST
    for (const j of [json1, json2, form1, form2]) assert.equal((await done(j)).state, 'completed');
    const byId = (r: Hit[], id: string) => r.find((h) => h.headers['webhook-id'] === id)!;
    const j1 = byId(hitsOn(main, '/json'), json1.id);
    assert.equal(j1.method, 'POST');
    assert.equal(j1.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(j1.body), args);
    assert.equal(verified(j1), json1.id);
    const j2 = byId(hitsOn(main, '/json'), json2.id);
    assert.equal(j2.headers['content-type'], 'application/vnd.x+json', 'the caller\'s content type wins');
    assert.deepEqual(JSON.parse(j2.body), args);
    const f1 = byId(hitsOn(main, '/form'), form1.id);
    assert.equal(f1.method, 'POST');
    assert.equal(f1.url, '/form?via=q');
    assert.equal(f1.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(f1.body, 'name=Asha+B&ok=False&list=1&list=2');
    assert.equal(verified(f1), form1.id);
    const f2 = byId(hitsOn(main, '/form'), form2.id);
    assert.equal(f2.method, 'POST');
    assert.equal(f2.body, 'a=1');
  });

  it('PUT, PATCH and DELETE follow the same isBody rule; a lower-case method is accepted', async () => {
    const jobs = await Promise.all([
      fusion.enqueue('webhook', { url: `${main.base}/put`, method: 'put', args: { v: 1 }, isBody: true }),
      fusion.enqueue('webhook', { url: `${main.base}/patch`, method: 'PATCH', args: { v: 2 }, isBody: 0 }),
      fusion.enqueue('webhook', { url: `${main.base}/delete`, method: 'DELETE', args: { v: 3 }, isBody: 1 }),
    ]);
    for (const j of jobs) assert.equal((await done(j)).state, 'completed');
    const [put] = hitsOn(main, '/put');
    assert.equal(put!.method, 'PUT');
    assert.equal(put!.body, '{"v":1}');
    const [patch] = hitsOn(main, '/patch');
    assert.equal(patch!.method, 'PATCH');
    assert.equal(patch!.body, 'v=2');
    assert.equal(patch!.headers['content-type'], 'application/x-www-form-urlencoded');
    const [del] = hitsOn(main, '/delete');
    assert.equal(del!.method, 'DELETE');
    assert.equal(del!.body, '{"v":3}');
    for (const h of [put!, patch!, del!]) verified(h);
  });

  it('the native form: query and body (JSON unless a string)', async () => {
    const j = await fusion.enqueue('webhook', { url: `${main.base}/native`, method: 'PUT', query: { a: 1 }, body: { event: 'x' } });
    assert.equal((await done(j)).state, 'completed');
    const [hit] = hitsOn(main, '/native');
    assert.equal(hit!.url, '/native?a=1');
    assert.equal(hit!.headers['content-type'], 'application/json');
    assert.equal(hit!.body, '{"event":"x"}');
  });

  it('follows redirects as the original did (307 keeps the body, 303 turns to GET), each hop through the guard', async () => {
    const outside = await receiver(undefined, '::1'); // not allowlisted here
    try {
      answers.set('/moved', (_h, res) => res.writeHead(307, { location: '/moved-here' }).end());
      answers.set('/see-other', (_h, res) => res.writeHead(303, { location: `${main.base}/seen` }).end());
      answers.set('/escape', (_h, res) => res.writeHead(302, { location: `${outside.base}/inside` }).end());
      const moved = await fusion.enqueue('webhook', { url: `${main.base}/moved`, method: 'POST', args: { k: 'v' }, isBody: 1 });
      const seen = await fusion.enqueue('webhook', { url: `${main.base}/see-other`, method: 'POST', args: { k: 'v' }, isBody: 1 });
      const escape = await fusion.enqueue('webhook', { url: `${main.base}/escape`, method: 'GET' }, FAST_RETRY);
      assert.equal((await done(moved)).state, 'completed');
      const [here] = hitsOn(main, '/moved-here');
      assert.equal(here!.method, 'POST');
      assert.equal(here!.body, '{"k":"v"}');
      verified(here!);
      assert.equal((await done(seen)).state, 'completed');
      const [s] = hitsOn(main, '/seen');
      assert.equal(s!.method, 'GET');
      assert.equal(s!.body, '');
      const e = await done(escape);
      assert.equal(e.state, 'failed');
      assert.equal(e.attempts, 1);
      assert.equal(e.error!.code, 'outgoing_refused');
      assert.match(e.error!.message, /refused to reach ::1/);
      assert.equal(outside.hits.length, 0);
    } finally {
      await outside.close();
    }
  });

  it('a 500 is retried (same webhook-id, fresh signature) and a 404 fails at once', async () => {
    answers.set('/missing', (_h, res) => res.writeHead(404).end('no such hook'));
    let first = true;
    answers.set('/flaky', (_h, res) => {
      res.writeHead(first ? 500 : 200).end(first ? 'boom' : 'fine');
      first = false;
    });
    const flaky = await fusion.enqueue('webhook', { url: `${main.base}/flaky`, method: 'POST', args: { k: 1 }, isBody: 1 }, FAST_RETRY);
    const missing = await fusion.enqueue('webhook', { url: `${main.base}/missing`, method: 'GET' }, FAST_RETRY);
    const f = await done(flaky);
    assert.equal(f.state, 'completed');
    assert.equal(f.attempts, 2);
    assert.equal((f.result as { body: string }).body, 'fine');
    const tries = hitsOn(main, '/flaky');
    assert.equal(tries.length, 2);
    assert.deepEqual(tries.map(verified), [flaky.id, flaky.id]);
    const m = await done(missing);
    assert.equal(m.state, 'failed');
    assert.equal(m.attempts, 1);
    assert.equal(m.error!.retryable, false);
    assert.equal(m.error!.code, 'http_404');
    assert.equal(m.error!.details!.status, 404);
    assert.equal(m.error!.details!.body, 'no such hook');
    assert.equal(hitsOn(main, '/missing').length, 1);
  });

  it('a 429 is retried no sooner than its Retry-After', async () => {
    let first = true;
    answers.set('/busy', (_h, res) => {
      if (first) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      else res.writeHead(200).end('ok');
      first = false;
    });
    const job = await fusion.enqueue('webhook', { url: `${main.base}/busy`, method: 'GET' }, FAST_RETRY);
    const waiting = await waitForState(store, job.id, 'scheduled');
    assert.equal(waiting.error!.code, 'http_429');
    assert.ok(waiting.runAt - waiting.history[0]!.endedAt! >= 990, `retry due ${waiting.runAt - waiting.history[0]!.endedAt!} ms after the 429`);
    const j = await done(job);
    assert.equal(j.state, 'completed');
    assert.equal(j.attempts, 2);
    const tries = hitsOn(main, '/busy');
    const gap = Number(tries[1]!.headers['webhook-timestamp']) - Number(tries[0]!.headers['webhook-timestamp']);
    assert.ok(gap >= 0 && gap <= 3, `timestamps are per attempt (gap ${gap} s)`);
    assert.ok(j.history[1]!.startedAt - j.history[0]!.endedAt! >= 990, 'the second attempt waited for Retry-After');
  });

  it('a timeout is retried', async () => {
    let first = true;
    answers.set('/slow', (_h, res) => {
      if (first) first = false; // never answered: the request times out
      else res.writeHead(200).end('in time');
    });
    const job = await fusion.enqueue('webhook', { url: `${main.base}/slow`, method: 'GET', timeout: 0.3 }, FAST_RETRY);
    const j = await done(job);
    assert.equal(j.state, 'completed', JSON.stringify(j.error));
    assert.equal(j.attempts, 2);
    assert.equal((j.result as { body: string }).body, 'in time');
    assert.match(j.history[0]!.error ?? '', /timed out/);
  });

  it('cancelling a job, or its attempt timing out, aborts its request in flight (the receiver sees the connection closed)', async () => {
    const closed = new Map<string, Promise<void>>();
    for (const path of ['/hang-cancel', '/hang-timeout']) {
      let seen!: () => void;
      closed.set(path, new Promise<void>((r) => (seen = r)));
      answers.set(path, (_h, res) => res.on('close', seen)); // never answered
    }
    const cancelled = await fusion.enqueue('webhook', { url: `${main.base}/hang-cancel`, method: 'GET', timeout: 60 });
    const timedOut = await fusion.enqueue('webhook', { url: `${main.base}/hang-timeout`, method: 'GET', timeout: 60 }, { timeout: 400, maxAttempts: 1 });
    await within(until(() => hitsOn(main, '/hang-cancel').length === 1, 5000, 'the request'), 6000, 'the request');
    await fusion.queue.cancel(cancelled.id);
    assert.equal((await waitForState(store, cancelled.id, 'cancelled')).state, 'cancelled');
    await within(closed.get('/hang-cancel')!, 5000, 'the cancelled request closed');
    assert.equal((await waitForState(store, timedOut.id, 'failed')).state, 'failed');
    await within(closed.get('/hang-timeout')!, 5000, 'the timed-out request closed');
    assert.equal(hitsOn(main, '/hang-timeout').length, 1);
  });

  it('callback: 1 POSTs {resp, status_code} as a form to callback_url, signed, as a follow-up job', async () => {
    answers.set('/created', (_h, res) => res.writeHead(201).end('{"id":42}'));
    const job = await fusion.enqueue('webhook', {
      url: `${main.base}/created`, method: 'POST', args: { a: 1 }, isBody: 1, callback: 1, callback_url: `${cb.base}/cb`,
    });
    const j = await done(job);
    assert.equal(j.state, 'completed');
    const result = j.result as { status: number; callback: { jobId: string } };
    assert.equal(result.status, 201);
    const follow = await waitForState(store, result.callback.jobId, ['completed', 'failed']);
    assert.equal(follow.state, 'completed');
    assert.equal((follow.result as { status: number }).status, 200);
    const [hit] = hitsOn(cb, '/cb');
    assert.equal(hit!.method, 'POST');
    assert.equal(hit!.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(hit!.body)), { resp: '{"id":42}', status_code: '201' });
    assert.equal(verified(hit!), result.callback.jobId);
  });

  it('a chunked answer (no content-length) is read whole up to 256 KiB and cut there; the result keeps 16 KiB of it', async () => {
    const piece = (ch: string) => ch.repeat(64 * 1024);
    // Small, in three chunks: read whole.
    answers.set('/chunked', (_h, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one,');
      setImmediate(() => {
        res.write('two,');
        setImmediate(() => res.end('three'));
      });
    });
    // 320 KiB in five chunks of 64 KiB: the callback gets the first 256 KiB.
    answers.set('/chunked-big', (_h, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const parts = ['a', 'b', 'c', 'd', 'e'].map(piece);
      const next = () => {
        const p = parts.shift();
        if (p === undefined) return void res.end();
        res.write(p);
        setImmediate(next);
      };
      next();
    });
    const small = await fusion.enqueue('webhook', { url: `${main.base}/chunked`, method: 'GET' });
    const big = await fusion.enqueue('webhook', { url: `${main.base}/chunked-big`, method: 'GET', callback: 1, callback_url: `${cb.base}/cb-big` });
    const s = await done(small);
    assert.equal(s.state, 'completed', JSON.stringify(s.error));
    assert.equal((s.result as { body: string }).body, 'one,two,three');
    const b = await done(big);
    assert.equal(b.state, 'completed', JSON.stringify(b.error));
    const result = b.result as { status: number; body: string; callback: { jobId: string } };
    assert.equal(result.status, 200);
    assert.equal(result.body, `${'a'.repeat(16 * 1024)}…[${256 * 1024 - 16 * 1024} more characters]`);
    assert.equal((await waitForState(store, result.callback.jobId, ['completed', 'failed'])).state, 'completed');
    const [hit] = hitsOn(cb, '/cb-big');
    const resp = new URLSearchParams(hit!.body).get('resp')!;
    assert.equal(resp.length, 256 * 1024);
    assert.equal(resp, piece('a') + piece('b') + piece('c') + piece('d'));
  });
  it('a failing callback retries on its own without resending the webhook; a final 4xx still calls back', async () => {
    let cbFirst = true;
    answers.set('/cb-flaky', (_h, res) => {
      res.writeHead(cbFirst ? 503 : 200).end();
      cbFirst = false;
    });
    answers.set('/gone', (_h, res) => res.writeHead(410).end('gone'));
    const ok = await fusion.enqueue('webhook', { url: `${main.base}/once`, method: 'GET', callback: '1', callback_url: `${cb.base}/cb-flaky` }, FAST_RETRY);
    const gone = await fusion.enqueue('webhook', { url: `${main.base}/gone`, method: 'GET', callback: 1, callback_url: `${cb.base}/cb-gone` }, FAST_RETRY);
    const o = await done(ok);
    assert.equal(o.state, 'completed');
    const follow = await waitForState(store, (o.result as { callback: { jobId: string } }).callback.jobId, ['completed', 'failed']);
    assert.equal(follow.state, 'completed');
    assert.equal(follow.attempts, 2);
    assert.equal(hitsOn(cb, '/cb-flaky').length, 2);
    assert.equal(hitsOn(main, '/once').length, 1, 'the webhook itself went once');
    const g = await done(gone);
    assert.equal(g.state, 'failed');
    assert.equal(g.attempts, 1);
    const goneCb = g.error!.details!.callback as { jobId: string };
    assert.equal((await waitForState(store, goneCb.jobId, ['completed', 'failed'])).state, 'completed');
    const [hit] = hitsOn(cb, '/cb-gone');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(hit!.body)), { resp: 'gone', status_code: '410' });
  });

  it('callback: 1, a job failed on a final 4xx and retried by hand: its new answer is called back too', async () => {
    let first = true;
    answers.set('/gone-then-back', (_h, res) => {
      res.writeHead(first ? 410 : 200).end(first ? 'gone' : 'back');
      first = false;
    });
    const job = await fusion.enqueue('webhook', { url: `${main.base}/gone-then-back`, method: 'GET', callback: 1, callback_url: `${cb.base}/cb-back` }, FAST_RETRY);
    const failed = await done(job);
    assert.equal(failed.state, 'failed');
    const firstCb = failed.error!.details!.callback as { jobId: string };
    assert.equal((await waitForState(store, firstCb.jobId, ['completed', 'failed'])).state, 'completed');
    await fusion.queue.retry(job.id);
    const back = await waitForState(store, job.id, ['completed', 'failed']);
    assert.equal(back.state, 'completed');
    const secondCb = (back.result as { callback: { jobId: string } }).callback;
    assert.notEqual(secondCb.jobId, firstCb.jobId, 'a callback job of its own');
    assert.equal((await waitForState(store, secondCb.jobId, ['completed', 'failed'])).state, 'completed');
    assert.deepEqual(hitsOn(cb, '/cb-back').map((h) => Object.fromEntries(new URLSearchParams(h.body))), [
      { resp: 'gone', status_code: '410' }, { resp: 'back', status_code: '200' },
    ]);
  });

  it('args.integration_payload: the outcome and metadata go to integration_callback_url as JSON, once the job\'s outcome is known (not on a retried attempt)', async () => {
    let calls = 0;
    answers.set('/flaky-integration', (_h, res) => res.writeHead(++calls === 1 ? 503 : 201).end('stored'));
    answers.set('/down-integration', (_h, res) => res.writeHead(503).end('down'));
    const args = (path: string) => ({ id: 7, integration_payload: { integration_callback_url: `${cb.base}${path}`, metadata: { order: 42, tags: ['a'] } } });
    const ok = await fusion.enqueue('webhook', { url: `${main.base}/flaky-integration`, args: args('/integration-ok'), isBody: 1 }, { ...FAST_RETRY, maxAttempts: 3 });
    const bad = await fusion.enqueue('webhook', { url: `${main.base}/down-integration`, args: args('/integration-ko'), isBody: 1 }, { ...FAST_RETRY, maxAttempts: 2 });
    assert.equal((await done(ok)).state, 'completed');
    assert.equal((await done(bad)).state, 'failed');
    for (const id of [`${ok.id}:integration_callback`, `${bad.id}:integration_callback:failed`]) assert.equal((await waitForState(store, id, ['completed', 'failed'])).state, 'completed');
    // The args went to the webhook's URL as given, integration payload included.
    assert.deepEqual(JSON.parse(hitsOn(main, '/flaky-integration')[0]!.body), args('/integration-ok'));
    const [told] = hitsOn(cb, '/integration-ok');
    assert.equal(told!.headers['content-type'], 'application/json');
    verified(told!);
    const body = JSON.parse(told!.body);
    assert.deepEqual([body.event, body.job.id, body.job.state, body.job.attempts, body.job.result.status, body.job.result.body], ['job.completed', ok.id, 'completed', 2, 201, 'stored']);
    assert.deepEqual(body.metadata, { order: 42, tags: ['a'] });
    const failed = JSON.parse(hitsOn(cb, '/integration-ko')[0]!.body);
    assert.deepEqual([failed.event, failed.job.state, failed.job.attempts, failed.job.error.code, failed.job.error.details.status], ['job.failed', 'failed', 2, 'http_503', 503]);
    assert.equal(failed.job.error.stack, undefined);
    assert.deepEqual(failed.metadata, { order: 42, tags: ['a'] });
    assert.deepEqual([hitsOn(cb, '/integration-ok').length, hitsOn(cb, '/integration-ko').length], [1, 1], 'told once each, not on the retried attempt');
    // Retried by hand once its endpoint is back, the failed job completes, and says so too.
    answers.set('/down-integration', (_h, res) => res.writeHead(200).end('back'));
    await fusion.queue.retry(bad.id);
    assert.equal((await done(bad)).state, 'completed');
    assert.equal((await waitForState(store, `${bad.id}:integration_callback`, ['completed', 'failed'])).state, 'completed');
    assert.deepEqual(hitsOn(cb, '/integration-ko').map((h) => JSON.parse(h.body).event), ['job.failed', 'job.completed']);
  });

  it('args.integration_payload: a failed job retried by hand that fails again tells that failure too, under an id of its own', async () => {
    answers.set('/down-twice', (_h, res) => res.writeHead(503).end('down'));
    const args = { integration_payload: { integration_callback_url: `${cb.base}/integration-twice`, metadata: { order: 7 } } };
    const job = await fusion.enqueue('webhook', { url: `${main.base}/down-twice`, args, isBody: 1 }, { maxAttempts: 1 });
    assert.equal((await done(job)).state, 'failed');
    assert.equal((await waitForState(store, `${job.id}:integration_callback:failed`, ['completed', 'failed'])).state, 'completed');
    const next = cb.hit(cb.hits.length + 1);
    await fusion.queue.retry(job.id);
    assert.equal((await done(job)).state, 'failed');
    await within(next, 10_000, 'the second failure told');
    const told = hitsOn(cb, '/integration-twice');
    assert.deepEqual(told.map((h) => JSON.parse(h.body).event), ['job.failed', 'job.failed']);
    assert.deepEqual(told.map(verified), [`${job.id}:integration_callback:failed`, `${job.id}:integration_callback:failed-2`]);
  });

  it('job callbacks (fusion.callback) are signed too, webhook-id being the callback job\'s id', async () => {
    fusion.task('work', () => ({ done: true }));
    const job = await fusion.enqueue('work', null, { callbacks: { onSuccess: `${cb.base}/job-done` } });
    const follow = await waitForState(store, `${job.id}:completed-callback`, ['completed', 'failed']);
    assert.equal(follow.state, 'completed');
    const [hit] = hitsOn(cb, '/job-done');
    assert.equal(verified(hit!), follow.id);
    assert.deepEqual(JSON.parse(hit!.body).job.result, { done: true });
  });

  it('refuses a signing secret that is not whsec_<base64>', () => {
    for (const bad of ['abc', 'whsec_', 'whsec_***not base64***']) assert.throws(() => new WebhookSigner(bad), TypeError, bad);
    assert.match(new WebhookSigner(SECRET).signature('id', 1, 'x'), /^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('checks payloads at enqueue, naming the field; lenient with what the original accepted', async () => {
    const refused: [unknown, string][] = [
      [{}, 'payload.url'],
      [{ url: 'ftp://example.com/x' }, 'payload.url'],
      [{ url: 'not a url' }, 'payload.url'],
      [{ url: 'https://example.com', method: 'TRACE' }, 'payload.method'],
      [{ url: 'https://example.com', headers: { 'X-N': 5 } }, 'payload.headers.X-N'],
      [{ url: 'https://example.com', headers: { 'X-A': 'a\r\nX-B: b' } }, 'payload.headers.X-A'],
      [{ url: 'https://example.com', headers: ['a'] }, 'payload.headers'],
      [{ url: 'https://example.com', timeout: 0 }, 'payload.timeout'],
      [{ url: 'https://example.com', timeout: 301 }, 'payload.timeout'],
      [{ url: 'https://example.com', timeout: 'soon' }, 'payload.timeout'],
      [{ url: 'https://example.com', isBody: 'yes' }, 'payload.isBody'],
      [{ url: 'https://example.com', callback: 1 }, 'payload.callback_url'],
      [{ url: 'https://example.com', callback: 1, callback_url: 'file:///x' }, 'payload.callback_url'],
      [{ url: 'https://example.com', args: { integration_payload: { integration_callback_url: 'file:///x' } } }, 'payload.args.integration_payload.integration_callback_url'],
      [{ url: 'https://example.com', data: 5 }, 'payload.data'],
      [{ url: 'https://example.com', method: 'GET', body: { a: 1 } }, 'payload.body'],
      [null, 'payload'],
    ];
    for (const [payload, field] of refused) {
      await assert.rejects(fusion.enqueue('webhook', payload), (e: unknown) => {
        assert.ok(e instanceof FusionError, String(e));
        assert.equal(e.code, 'invalid_payload');
        assert.equal(e.details.field, field, `${JSON.stringify(payload)}: ${e.message}`);
        return true;
      });
    }
    for (const payload of [
      { url: 'https://example.com/h', method: 'post', isBody: true, args: { a: 1 }, timeout: '15' },
      { url: 'https://example.com/h', method: 'GET', data: { a: 1 }, isBody: '0', callback: 0, contact: 98765 },
      { url: 'https://example.com/h', method: 'POST', args: 'raw=1', isBody: 0, timeout: 300, body: { callback_headers: {}, callback_payload: {} } },
      { url: 'https://example.com/h', callback: '1', callback_url: 'https://cb.example.com/x', headers: { 'Content-Type': 'application/json' } },
    ]) {
      const j = await fusion.enqueue('webhook', payload, { delay: 3_600_000 });
      assert.equal(j.queue, 'webhook');
      await fusion.store.cancelJob({ id: j.id, now: Date.now() });
    }
  });
});
