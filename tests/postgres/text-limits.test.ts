// What PostgreSQL's text cannot hold and SQLite and Redis can: a NUL character ("\u0000") and lone
// UTF-16 surrogates. A json column keeps them (escaped), but text columns, and json taken apart
// into text (->>, json_to_recordset), refuse them. Work carrying them must still land: outcomes
// (one document taken apart by finish_jobs) are stored with U+FFFD for each.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { dropSchema, pgHarness, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('PostgreSQL and text its columns cannot hold', { skip }, () => {
  let h: Awaited<ReturnType<typeof pgHarness>>;
  before(async () => {
    h = await pgHarness();
  });
  after(async () => {
    await h?.cleanup();
  });

  it('outcomes whose result or error holds a NUL or a lone surrogate apply, each as U+FFFD, and so does the rest of the batch', async () => {
    const now = Date.now();
    const ids = ['nul', 'lone', 'ok'];
    await h.store.addJobs({ jobs: ids.map((id) => resolveSpec({ id, task: 't', queue: 'text', payload: null, maxAttempts: 1 }, now)), now });
    const { jobs } = await h.store.claimJobs({ queues: ['text'], workerId: 'w', limit: 3, leaseMs: 60_000, now });
    const leased = new Map(jobs.map((j) => [j.id, j.leaseToken!]));
    assert.equal(leased.size, 3);
    // A provider's answer quoted in the error, as a channel does: bytes it chose.
    const nulError = { message: 'provider said: a\u0000b', name: 'Error', retryable: false, details: { body: 'x\u0000y' } };
    const loneError = { message: 'half a pair: \ud800.', name: 'Error', retryable: true };
    const applied = await h.store.finishJobs({
      outcomes: [
        { id: 'nul', token: leased.get('nul')!, kind: 'failed', at: now + 1, error: nulError },
        { id: 'lone', token: leased.get('lone')!, kind: 'retry', at: now + 1, error: loneError, retryAt: now + 60_000 },
        { id: 'ok', token: leased.get('ok')!, kind: 'completed', at: now + 1, result: { code: '1234', ['k\u0000']: 'v\u0000', text: 'a \\u0000 written out' } },
      ],
    });
    assert.deepEqual(applied, [true, true, true]);
    const nul = (await h.store.getJob({ id: 'nul' }))!;
    assert.equal(nul.state, 'failed');
    assert.deepEqual(nul.error, { ...nulError, message: 'provider said: a\ufffdb', details: { body: 'x\ufffdy' } });
    assert.deepEqual(nul.history.map((a) => [a.outcome, a.error]), [['failed', 'provider said: a\ufffdb']]);
    const lone = (await h.store.getJob({ id: 'lone' }))!;
    assert.equal(lone.state, 'scheduled');
    assert.deepEqual(lone.error, { ...loneError, message: 'half a pair: \ufffd.' });
    assert.deepEqual(lone.history.map((a) => [a.outcome, a.error]), [['retrying', 'half a pair: \ufffd.']]);
    const ok = (await h.store.getJob({ id: 'ok' }))!;
    // Written out (a backslash, then u0000) is plain text, kept as it is.
    assert.deepEqual([ok.state, ok.result], ['completed', { code: '1234', ['k\ufffd']: 'v\ufffd', text: 'a \\u0000 written out' }]);
  });

  it("a handler's log line holding a NUL is kept (U+FFFD in its place), not thrown back at the handler", async () => {
    const now = Date.now();
    await h.store.addJobs({ jobs: [resolveSpec({ id: 'logged', task: 't', queue: 'logs', payload: null }, now)], now });
    await h.store.logJob({ id: 'logged', message: 'raw reply: a\u0000b', now });
    await h.store.logJob({ id: 'logged', message: 'next', now: now + 1 });
    assert.deepEqual((await h.store.jobLogs({ id: 'logged' })).map((l) => l.message), ['raw reply: a\ufffdb', 'next']);
  });

  it('a job whose id, task or description holds a NUL is refused with a 400 naming the field; the rest of a shared add goes in', async () => {
    const schema = testSchema();
    const fusion = await Fusion.open({ store: schemaUrl(schema), channels: false });
    fusion.task('t', async () => null).task('t\u0000', async () => null);
    const app = await buildServer({ fusion, processMetrics: false });
    await app.ready();
    try {
      const cases: [string, Record<string, unknown>][] = [
        ['description', { task: 't', description: 'about \u0000' }],
        ['task', { task: 't\u0000' }],
        ['id', { id: 'x\u0000', task: 't' }],
      ];
      for (const [field, body] of cases) {
        // With a plain job beside it: the enqueue funnel may add both in one store call.
        const [bad, good] = await Promise.all([
          app.inject({ method: 'POST', url: '/v1/jobs', payload: body }),
          app.inject({ method: 'POST', url: '/v1/jobs', payload: { task: 't', payload: { field } } }),
        ]);
        assert.equal(bad.statusCode, 400, `${field}: ${bad.body}`);
        const { error } = bad.json() as { error: { code: string; message: string; details: { field: string } } };
        assert.equal(error.code, 'invalid_job');
        assert.equal(error.details.field, field);
        assert.match(error.message, /NUL/);
        assert.equal(good.statusCode, 201, good.body);
      }
      const bulk = await app.inject({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 't' }, { task: 't', description: '\u0000' }] } });
      assert.equal(bulk.statusCode, 400, bulk.body);
      // The three plain jobs, nothing of the refused ones (a bulk add is all or nothing).
      const counts = await fusion.store.countJobs();
      assert.equal(Object.values(counts).reduce((n, c) => n + c.queued, 0), 3);
    } finally {
      await app.close();
      await fusion.close(100);
      await dropSchema(schema);
    }
  });

  it('a schedule whose job template has a NUL in its description or task is refused when saved (400), not left to fail at every pass', async () => {
    const schema = testSchema();
    const fusion = await Fusion.open({ store: schemaUrl(schema), channels: false });
    fusion.task('t', async () => null).task('t\u0000', async () => null);
    const app = await buildServer({ fusion, processMetrics: false });
    await app.ready();
    try {
      for (const [field, template] of [['template.description', { task: 't', description: 'daily \u0000' }], ['template.task', { task: 't\u0000' }]] as const) {
        const r = await app.inject({ method: 'POST', url: '/v1/schedules', payload: { trigger: { every: '1s' }, template } });
        assert.equal(r.statusCode, 400, `${field}: ${r.body}`);
        const { error } = r.json() as { error: { code: string; details: { field: string } } };
        assert.deepEqual([error.code, error.details.field], ['invalid_schedule', field]);
      }
      assert.deepEqual(await fusion.store.listSchedules(), []);
    } finally {
      await app.close();
      await fusion.close(100);
      await dropSchema(schema);
    }
  });
});
