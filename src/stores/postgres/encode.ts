// How a job's fields travel to the add statements, and the column list both share (add-one.ts,
// add-many.ts). A bulk call's jobs mostly differ only in id and payload: add-many sends each field
// as one array (a column of its own, unnested by the server), with a single element when every job
// has it alike, so the shared fields go once and nothing per job is JSON the server takes apart.
import { payloadJsonOf, type NewJob } from '../../core/job.js';

/** A job field other than id and payload: its name in NewJob, its column, its SQL type. */
interface Field {
  key: keyof NewJob;
  column: string;
  type: 'text' | 'integer' | 'bigint' | 'json';
  /** The value sent for it (json fields as JSON text; SQL NULL for null or absent). */
  encode(j: NewJob): string | number | null;
}

/** JSON of a json column: SQL NULL for null (and for what JSON cannot hold). */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : (JSON.stringify(v) ?? null));

const plain = (key: keyof NewJob) => (j: NewJob) => (j[key] as string | number | null | undefined) ?? null;

/** Every column of an add after id, payload and state, in this order. */
export const FIELDS: readonly Field[] = [
  { key: 'queue', column: 'queue', type: 'text', encode: plain('queue') },
  { key: 'task', column: 'task', type: 'text', encode: plain('task') },
  { key: 'priority', column: 'priority', type: 'integer', encode: plain('priority') },
  { key: 'maxAttempts', column: 'max_attempts', type: 'integer', encode: plain('maxAttempts') },
  { key: 'backoff', column: 'backoff', type: 'json', encode: (j) => json(j.backoff) },
  { key: 'timeout', column: 'timeout', type: 'bigint', encode: plain('timeout') },
  { key: 'maxStalls', column: 'max_stalls', type: 'integer', encode: plain('maxStalls') },
  { key: 'runAt', column: 'run_at', type: 'bigint', encode: plain('runAt') },
  { key: 'createdAt', column: 'created_at', type: 'bigint', encode: plain('createdAt') },
  { key: 'description', column: 'description', type: 'text', encode: plain('description') },
  // No tags is NULL, not an empty array.
  { key: 'tags', column: 'tags', type: 'json', encode: (j) => (j.tags?.length ? JSON.stringify(j.tags) : null) },
  { key: 'callbacks', column: 'callbacks', type: 'json', encode: (j) => json(j.callbacks) },
  { key: 'scheduleId', column: 'schedule_id', type: 'text', encode: plain('scheduleId') },
];

/** The insert's column list: id, payload, state, then FIELDS. */
export const JOB_COLUMNS = ['id', 'payload', 'state', ...FIELDS.map((f) => f.column)].join(', ');

/** A job's payload column: its JSON text, made once (payloadJsonOf); SQL NULL for none. */
const payloadColumn = (j: NewJob): string | null => (j.payload === null || j.payload === undefined ? null : payloadJsonOf(j));

/** One job's values in JOB_COLUMNS order. */
export function jobValues(j: NewJob, state: 'queued' | 'scheduled'): unknown[] {
  return [j.id, payloadColumn(j), state, ...FIELDS.map((f) => f.encode(j))];
}

function alike(a: unknown, b: unknown, aJson: string | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  // No tags: a fresh [] on every job; no need to write each out to see it is alike.
  if (Array.isArray(a) && Array.isArray(b) && a.length === 0) return b.length === 0;
  return aJson === JSON.stringify(b);
}

/**
 * Several jobs as columns: [ids, payloads, ...one array per field of FIELDS], each field's array of
 * a single element when every job has it alike (add-many.ts picks that element for every row).
 */
export function jobColumns(jobs: NewJob[]): unknown[][] {
  const out: unknown[][] = [jobs.map((j) => j.id), jobs.map(payloadColumn)];
  const first = jobs[0]!;
  for (const f of FIELDS) {
    const v = first[f.key];
    const vJson = v !== null && typeof v === 'object' ? JSON.stringify(v) : undefined;
    let same = true;
    for (let i = 1; i < jobs.length && same; i++) same = alike(v, jobs[i]![f.key], vJson);
    out.push(same ? [f.encode(first)] : jobs.map(f.encode));
  }
  return out;
}
