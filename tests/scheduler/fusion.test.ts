// End to end through the Fusion facade: a schedule fires, a worker runs each occurrence's job.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { occurrenceJobId } from '../../src/core/scheduler.js';
import { withFusion } from '../helpers/engine.js';

describe('Fusion facade', () => {
  it('schedule() + startScheduler() + a worker run three occurrences of an every-schedule, then stop', async () => {
    await withFusion(async ({ fusion }) => {
      const seen: { id: string; n: number }[] = [];
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      fusion.task('ping', async (payload: { n: number }, ctx) => {
        seen.push({ id: ctx.job.id, n: payload.n });
        if (seen.length === 3) resolveDone();
      }, { queue: 'pings', priority: 'high' });
      const s = await fusion.schedule({ id: 'ping-3', trigger: { every: '30ms' }, template: { task: 'ping', payload: { n: 7 } }, limit: 3 });
      assert.equal(s.template.task, 'ping');
      fusion.startScheduler();
      fusion.worker();
      await done;
      const sched = (await fusion.scheduler.get('ping-3'))!;
      assert.equal(sched.runCount, 3);
      assert.equal(sched.nextRunAt, null);
      const first = s.nextRunAt!;
      assert.deepEqual(seen.map((x) => x.id).sort(), [0, 1, 2].map((i) => occurrenceJobId('ping-3', first + i * 30)).sort());
      const job = (await fusion.queue.get(seen[0]!.id))!;
      assert.equal(job.queue, 'pings', 'task defaults apply to scheduled jobs');
      assert.equal(job.priority, 2);
    });
  });
});
