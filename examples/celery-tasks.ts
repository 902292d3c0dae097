// The Flask + Celery priority-queue system's tasks, as a Fusion --tasks module, so that system's
// clients work against Fusion with one flag:
//
//   npm run build && node dist/src/cli/main.js start --tasks dist/examples/celery-tasks.js
//   curl -X POST http://127.0.0.1:8002/api/tasks -H 'Content-Type: application/json' \
//     -d '{"task_type":"data_processing","priority":"high","parameters":{"data":"test data"},"delay":0}'
//   curl http://127.0.0.1:8002/api/tasks/<task_id>     → {"status":"SUCCESS","result":"Processed data: test data",...}
//
// `email_sending` needs no handler here: /api/tasks maps it onto the email channel (task `email`,
// queue `email`). The original's process_task_logic was not published; these handlers keep its
// shape (task_type + parameters in, a result out) and its retry policy: 3 retries after the first
// attempt, exponential backoff from 1 s, capped at 60 s (get_retry_delay).
import type { Fusion } from '../src/fusion.js';
import { NonRetryableError } from '../src/core/errors.js';
import type { TaskOptions } from '../src/core/registry.js';

/** MAX_RETRIES = 3, INITIAL_RETRY_DELAY = 1 s, MAX_RETRY_DELAY = 60 s. */
const celeryRetries: TaskOptions = { maxAttempts: 4, backoff: { type: 'exponential', base: 1000, cap: 60_000 } };

export function processData(p: { data?: unknown }): string {
  if (p?.data === undefined || p.data === null) throw new NonRetryableError('data_processing needs parameters.data');
  return `Processed data: ${typeof p.data === 'string' ? p.data : JSON.stringify(p.data)}`;
}

export function processFile(p: { filename?: unknown }): string {
  if (typeof p?.filename !== 'string' || p.filename === '') throw new NonRetryableError('file_processing needs parameters.filename');
  // A name, not a path: a task posted over HTTP must not name files elsewhere on the worker's disk.
  if (/[\\/]|^\.\.?$/.test(p.filename)) throw new NonRetryableError('file_processing takes a file name, not a path');
  return `Processed file: ${p.filename}`;
}

/** The module's default export: `fusion start --tasks` calls it with the Fusion. */
export default function celeryTasks(fusion: Fusion): void {
  // The original routed by priority (high_priority/normal_priority/low_priority queues); Fusion keeps
  // one queue per task and orders it by the job's priority (high 2, normal 1, low 0).
  fusion.task('data_processing', async (p: { data?: unknown }) => processData(p), { queue: 'data', ...celeryRetries });
  fusion.task('file_processing', async (p: { filename?: unknown }) => processFile(p), { queue: 'files', ...celeryRetries });
}
