// Ids and names that a URL cannot carry: "." and ".." are path segments that browsers, proxies and
// fetch resolve away (/v1/jobs/.. is /v1/), so a job, queue or schedule named so could never be
// opened or acted on. They are refused where they enter: the API and the library's enqueue.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startApi, type Api } from './helpers.js';

describe('ids and names a URL cannot carry', () => {
  let api: Api;
  let base: string;
  before(async () => {
    api = await startApi({ setup: (f) => f.task('echo', async () => 'ok') });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  });
  after(() => api.close());

  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { error?: { code: string; message: string; details: { field?: string } } } };
  };

  for (const name of ['.', '..']) {
    test(`refuses the job id ${JSON.stringify(name)} with 400 naming id, and adds nothing`, async () => {
      const before = await api.totalJobs();
      const r = await post('/v1/jobs', { task: 'echo', id: name });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error?.details.field, 'id');
      const bulk = await post('/v1/jobs/bulk', { jobs: [{ task: 'echo', id: 'fine' }, { task: 'echo', id: name }] });
      assert.equal(bulk.status, 400, JSON.stringify(bulk.body));
      assert.equal(bulk.body.error?.details.field, 'jobs[1].id');
      assert.equal(await api.totalJobs(), before);
    });

    test(`refuses the queue name ${JSON.stringify(name)} with 400 naming queue`, async () => {
      const r = await post('/v1/jobs', { task: 'echo', queue: name });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error?.details.field, 'queue');
    });

    test(`refuses the schedule id ${JSON.stringify(name)} with 400 naming id`, async () => {
      const r = await post('/v1/schedules', { id: name, trigger: { every: '1h' }, template: { task: 'echo' } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error?.details.field, 'id');
    });

    test(`the library's enqueue refuses the id and queue ${JSON.stringify(name)}`, async () => {
      await assert.rejects(api.fusion.enqueue({ task: 'echo', id: name }), (e: { details?: { field?: string } }) => e.details?.field === 'id');
      await assert.rejects(api.fusion.enqueue({ task: 'echo', queue: name }), (e: { details?: { field?: string } }) => e.details?.field === 'queue');
    });
  }

  test('ids with dots that a URL keeps still work, and open by their URL', async () => {
    for (const id of ['...', '.a', 'a..b']) {
      const r = await post('/v1/jobs', { task: 'echo', id, queue: 'dots.q' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const got = await fetch(`${base}/v1/jobs/${encodeURIComponent(id)}`);
      assert.equal(got.status, 200);
      assert.equal(((await got.json()) as { id: string }).id, id);
    }
  });
});
