// /metrics stays bounded when clients name queues freely: every job counter keeps at most
// MAX_JOB_SERIES (queue, task) series, later pairs count under queue and task "(other)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json } from './helpers.js';
import { MAX_JOB_SERIES } from '../../src/api/metrics.js';
import { until } from '../helpers/await.js';

const seriesOf = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));

test('a flood of queue names does not grow the job series past the cap; every job is still counted', async () => {
  const api = await startApi({ setup: (f) => f.task('echo', async (p: unknown) => p, { queue: 'echoes' }) });
  const N = MAX_JOB_SERIES + 200;
  const queues = Array.from({ length: N }, (_, i) => `flood-${i}`);
  const worker = api.fusion.worker({ queues, concurrency: 50 });
  try {
    for (let i = 0; i < N; i += 500) {
      const jobs = queues.slice(i, i + 500).map((queue) => ({ task: 'echo', queue, payload: 1 }));
      const r = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs } });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(json(r).created, jobs.length);
    }
    const sum = (lines: string[]) => lines.reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    let text = '';
    await until(async () => {
      text = (await api.call({ method: 'GET', url: '/metrics' })).body;
      return sum(seriesOf(text, 'fusion_jobs_completed_total')) === N;
    }, 60_000, () => `every completion counted (${sum(seriesOf(text, 'fusion_jobs_completed_total'))} of ${N})`);
    for (const name of ['fusion_jobs_enqueued_total', 'fusion_jobs_completed_total']) {
      const lines = seriesOf(text, name);
      assert.ok(lines.length <= MAX_JOB_SERIES + 1, `${name}: ${lines.length} series`);
      assert.equal(sum(lines), N, `${name}: every job counted`);
      assert.ok(lines.some((l) => l.includes('queue="(other)"')), `${name}: the rest under (other)`);
    }
    const durations = seriesOf(text, 'fusion_job_attempt_duration_seconds_count');
    assert.ok(durations.length <= MAX_JOB_SERIES + 1, `attempt durations: ${durations.length} series`);
  } finally {
    await worker.stop(1000);
    await api.close();
  }
});
