// Thousands of random bodies at every POST route: never a 5xx, the server stays up, the job count
// moves only when the answer is a 2xx, and the jobs a 2xx reports are in the store with the payload sent.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startApi, type Api } from './helpers.js';
import type { Job } from '../../src/core/job.js';

/** POST routes and the field names their bodies use, so random bodies often look nearly right. */
const ROUTES: [string, string[], Record<string, unknown>][] = [
  ['/v1/jobs', ['task', 'payload', 'queue', 'priority', 'runAt', 'delay', 'id', 'maxAttempts', 'backoff', 'timeout', 'callbacks', 'description', 'tags'], { task: 'sms' }],
  ['/v1/jobs/bulk', ['jobs'], { jobs: [{ task: 'sms' }, { task: 'email' }] }],
  ['/v1/jobs/fz/cancel', ['resetAttempts'], {}],
  ['/v1/jobs/fz/retry', ['resetAttempts'], {}],
  ['/v1/jobs/fz/promote', [], {}],
  ['/v1/jobs/fz/reschedule', ['runAt'], { runAt: Date.now() + 60_000 }],
  ['/v1/queues/fz/pause', [], {}],
  ['/v1/queues/fz/resume', [], {}],
  ['/v1/queues/fz/clean', ['olderThanMs', 'states', 'limit'], {}],
  ['/queue/', ['payload', 'priority', 'task_type', 'success_task_handler', 'failed_task_handler', 'job_id'], { payload: { task: 1, contact: 98765 } }],
  ['/schedule/', ['payload', 'priority', 'task_type', 'schedule_at', 'delay', 'cron', 'repeat', 'rrule', 'job_id'], { payload: { task: 6, contact: 98765 }, delay: 60 }],
  ['/jobInfo/', ['job_id'], { job_id: 'fz' }],
  ['/cancelJob/', ['job_id'], { job_id: 'fz' }],
  ['/rescheduleJob/', ['job_id', 'schedule_at'], { job_id: 'fz', schedule_at: Math.floor(Date.now() / 1000) + 60 }],
  ['/retryTask/', ['job_id'], { job_id: 'fz' }],
  ['/mapping/', ['payload', 'priority', 'job_id'], { payload: { m: 1 } }],
  ['/update_consent/', ['contact', 'countryCode', 'consent'], { contact: '98765', countryCode: 91, consent: true }],
  ['/api/tasks', ['task_type', 'priority', 'parameters', 'delay'], { task_type: 'email_sending', parameters: {} }],
  ['/v1/schedules', ['id', 'trigger', 'template', 'startAt', 'endAt', 'limit', 'misfire', 'paused', 'description'], { trigger: { cron: '*/5 * * * *' }, template: { task: 'sms' } }],
  ['/v1/schedules/preview', ['trigger', 'count', 'from'], { trigger: { rrule: 'FREQ=DAILY;COUNT=3' }, count: 3 }],
  ['/v1/schedules/fz/pause', [], {}],
  ['/v1/schedules/fz/resume', [], {}],
  ['/v1/schedules/fz/run', [], {}],
  ['/remind_me', ['rrule', 'start_datetime', 'notification_metadata'], { rrule: 'FREQ=DAILY;COUNT=3', start_datetime: Math.floor(Date.now() / 1000) + 60, notification_metadata: { title: 't' } }],
];

type Body = Record<string, any>;
/** A job a 2xx answer says it made or acted on; `payload`, when known, is what the store must hold. */
type Reported = { id: string; payload?: unknown };

/** What the original's webhook payload becomes: its method made explicit (legacySpec). */
function legacyPayload(sent: Body, task: string): unknown {
  const p = { ...sent };
  if (task === 'webhook') p.method = String(p.method ?? 'POST').toUpperCase();
  return p;
}

/**
 * The jobs a 2xx answer reports, by route. `sent` is the JSON body (null for a form body: its values
 * are strings the schema coerces, so only the jobs' existence is checked). Routes absent here make
 * schedules or consent records, not jobs.
 */
const REPORTED: Record<string, (sent: Body | null, answer: Body, task: (id: string) => string | undefined) => Reported[]> = {
  '/v1/jobs': (sent, a) => [{ id: a.id, ...(sent ? { payload: sent.payload } : {}) }],
  '/v1/jobs/bulk': (sent, a) => a.jobs.map((j: Body, i: number) => ({ id: j.id, ...(sent ? { payload: sent.jobs[i].payload } : {}) })),
  '/v1/jobs/fz/cancel': (_s, a) => [{ id: a.id }],
  '/v1/jobs/fz/retry': (_s, a) => [{ id: a.id }],
  '/v1/jobs/fz/promote': (_s, a) => [{ id: a.id }],
  '/v1/jobs/fz/reschedule': (_s, a) => [{ id: a.id }],
  '/queue/': (sent, a, task) => [{ id: a.job_id, ...(sent ? { payload: legacyPayload(sent.payload, task(a.job_id)!) } : {}) }],
  // With cron or rrule the answer's job_id names a schedule.
  '/schedule/': (sent, a, task) =>
    a.schedule_id !== undefined ? [] : [{ id: a.job_id, ...(sent ? { payload: legacyPayload(sent.payload, task(a.job_id)!) } : {}) }],
  '/cancelJob/': (_s, a) => (a.status === 'canceled' && a.job_id !== 'fz' ? [] : [{ id: a.job_id }]),
  '/rescheduleJob/': (_s, a) => (a.schedule_id !== undefined ? [] : [{ id: a.job_id }]),
  '/retryTask/': (_s, a) => [{ id: a.job_id }],
  '/mapping/': (sent, a) => {
    if (!sent) return [{ id: a.job_id }];
    const { payload, priority, job_id, success_task_handler, failed_task_handler, ...rest } = sent;
    return [{ id: a.job_id, payload: payload !== undefined ? payload : rest }];
  },
  // email_sending parameters are reshaped into the email payload (tested in legacy-celery-example).
  // No parameters: the schema's default, {} (schemas/legacy.ts celeryCreate).
  '/api/tasks': (sent, a) => [{ id: a.task_id, ...(sent && sent.task_type !== 'email_sending' ? { payload: sent.parameters ?? {} } : {}) }],
  '/v1/schedules/fz/run': (_s, a) => [{ id: a.id }],
};

/** JSON's view of a value, as a store keeps it: -0 is 0, non-finite numbers are null, no payload is null. */
const asStored = (v: unknown) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

const tasks = fc.constantFrom('sms', 'email', 'push', 'webhook', 'whatsapp', 'email_sending', 'mapping', 'nope', '', 'fz');
/** Cases per route; `npm run test:fuzz` runs many more (FUZZ_RUNS). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

const times = fc.oneof(
  fc.integer(), fc.double(), fc.constantFrom(Date.now(), Date.now() / 1000, Date.now() + 60_000, '2026-02-30T00:00:00Z', 'now', ''),
  // Out of range: past Date's ±8.64e15 ms, before 1970, after 2200.
  fc.constantFrom(-8640000000000000, 8640000000000000, 8.64e15 + 1, -1, 1e308, '0001-01-01T00:00:00Z', '2300-01-01T00:00:00Z', '+275760-09-13T00:00:00Z'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const value = fc.oneof(
  { withCrossShrink: true },
  fc.jsonValue({ maxDepth: 3 }),
  tasks,
  times,
  fc.constantFrom(0, 1, 2, 3, 4, 5, 6, -1, 'high', 'low', 'normal', 'moderate', true, false, null, 'https://x.example.com', 'FREQ=DAILY;COUNT=2', '*/5 * * * *'),
  fc.record({ task: fc.oneof(fc.constantFrom(1, 2, 3, 4, 6, 9), fc.jsonValue()), contact: fc.jsonValue(), url: fc.jsonValue(), to: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ cron: fc.oneof(fc.constantFrom('* * * * *', '0 7 * * 1-5', '61 * * * *', '@daily', '0 0 30 2 *'), fc.string()), rrule: fc.oneof(fc.constantFrom('FREQ=HOURLY', 'FREQ=DAILY;UNTIL=19700101T000000Z', 'DTSTART:20260101T000000Z\nRRULE:FREQ=WEEKLY', 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31', 'FREQ=HOURLY;INTERVAL=2;BYHOUR=1', 'DTSTART:00010101T000000Z\nRRULE:FREQ=YEARLY'), fc.string()), tz: fc.constantFrom('UTC', 'Asia/Kolkata', 'Nowhere/City'), every: fc.oneof(fc.integer(), fc.string()), at: times }, { requiredKeys: [] }),
);

/** Number literals JSON.stringify cannot write (it rounds or normalizes them), and nesting far past the limit. */
const rawNumber = fc.constantFrom('1e308', '-1e308', '1e400', '-0', '9007199254740993', '9007199254740992', '5e-324', '-8640000000000000', '8640000000000001', '1E+2', '0.1e-400');
const rawDeep = fc.tuple(fc.integer({ min: 60, max: 5000 }), fc.boolean()).map(([n, arr]) => (arr ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`));
const raw = fc.oneof(rawNumber, rawDeep);

/** A body text: `base` with field `k` set to raw JSON text `v` (at the top, or inside trigger). */
function withRaw(base: Record<string, unknown>, path: string[], v: string): string {
  const inner = path.length === 2 ? `{"${path[1]}":${v}}` : v;
  const rest = JSON.stringify(Object.fromEntries(Object.entries(base).filter(([k]) => k !== path[0])));
  return rest === '{}' ? `{"${path[0]}":${inner}}` : `${rest.slice(0, -1)},"${path[0]}":${inner}}`;
}

function bodyFor(fields: string[], base: Record<string, unknown>) {
  const known = fields.length ? fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: fields.length }) : fc.constant({});
  // A valid body with a field or two replaced or removed: reaches the deeper checks and the 2xx paths.
  const nearlyValid = fields.length
    ? fc.tuple(fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 2 }), fc.subarray(Object.keys(base), { maxLength: Math.min(1, Object.keys(base).length) })).map(([m, drop]) => {
        const b: Record<string, unknown> = { ...base, ...m };
        for (const k of drop) delete b[k];
        return b;
      })
    : fc.constant(base);
  const paths: string[][] = [...fields.map((f) => [f]), ...(fields.includes('trigger') ? ['every', 'at', 'cron', 'rrule'].map((k) => ['trigger', k]) : [])];
  const rawBody = paths.length
    ? fc.tuple(fc.constantFrom(...paths), raw).map(([path, v]) => ({ kind: 'json' as const, body: withRaw(base, path, v) }))
    : raw.map((v) => ({ kind: 'json' as const, body: v }));
  return fc.oneof(
    fc.constant(base).map((b) => ({ kind: 'json' as const, body: JSON.stringify(b) })),
    rawBody,
    rawBody,
    raw.map((v) => ({ kind: 'form' as const, body: new URLSearchParams([[fields[0] ?? 'payload', v]]).toString() })),
    nearlyValid.map((b) => ({ kind: 'json' as const, body: JSON.stringify(b) })),
    nearlyValid.map((b) => ({ kind: 'json' as const, body: JSON.stringify(b) })),
    known.map((b) => ({ kind: 'json' as const, body: JSON.stringify(b) })),
    fc.jsonValue().map((b) => ({ kind: 'json' as const, body: JSON.stringify(b) })),
    fc.string({ maxLength: 80 }).map((s) => ({ kind: 'json' as const, body: s })),
    known.map((b) => ({ kind: 'form' as const, body: new URLSearchParams(Object.entries(b).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])).toString() })),
    fc.string({ maxLength: 80 }).map((s) => ({ kind: 'form' as const, body: s })),
  );
}

describe('fuzz: random bodies at every POST route', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ setup: (f) => f.task('mapping', async () => null).task('reminder', async () => null) });
    await api.fusion.schedule({ id: 'fz', trigger: { cron: '0 0 1 1 *' }, template: { task: 'sms' } });
    // A job the id-taking routes can find, so state-changing paths are exercised, not only 404s.
    await api.fusion.enqueue({ task: 'sms', id: 'fz', runAt: Date.now() + 3600_000 });
  });
  after(() => api.close());

  for (const [url, fields, base] of ROUTES) {
    test(`POST ${url}`, async (t) => {
      let twoXX = 0;
      await fc.assert(
        fc.asyncProperty(bodyFor(fields, base), fc.option(fc.constantFrom('k1', 'k2', 'bad key', ''), { nil: undefined }), async ({ kind, body }, key) => {
          const before = await api.totalJobs();
          const headers: Record<string, string> = { 'content-type': kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' };
          if (key !== undefined) headers['idempotency-key'] = key;
          const r = await api.app.inject({ method: 'POST', url, payload: body, headers });
          assert.ok(r.statusCode < 500, `${url} ${r.statusCode} ${r.body} for ${body}`);
          const parsed = JSON.parse(r.body);
          if (r.statusCode >= 400) {
            assert.equal(typeof parsed.error?.code, 'string', r.body);
            assert.equal(typeof parsed.error?.message, 'string', r.body);
            assert.equal(await api.totalJobs(), before, `${url} ${r.statusCode} changed the job count`);
          } else {
            twoXX++;
            const reported = REPORTED[url];
            if (!reported) return;
            // A route that takes no body (a schedule's run) may accept an empty or blank one: nothing was sent then.
            const sent: Body | null = kind === 'json' && body.trim() !== '' ? JSON.parse(body) : null;
            const jobs = new Map<string, Job>();
            const taskOf = (id: string) => jobs.get(id)?.task;
            // Load first: the legacy answers name the job, and its task decides the webhook rule.
            for (const id of [parsed.id, parsed.job_id, parsed.task_id, ...(parsed.jobs ?? []).map((j: Body) => j.id)]) {
              if (typeof id === 'string' && !jobs.has(id)) {
                const j = await api.fusion.store.getJob({ id });
                if (j) jobs.set(id, j);
              }
            }
            for (const rep of reported(sent, parsed, taskOf)) {
              const job = jobs.get(rep.id) ?? (await api.fusion.store.getJob({ id: rep.id }));
              assert.ok(job, `${url} answered ${r.statusCode} naming job ${rep.id}, not in the store: ${r.body}`);
              if ('payload' in rep) assert.deepEqual(asStored(job.payload), asStored(rep.payload), `${url}: job ${rep.id} holds another payload than sent: ${body}`);
            }
          }
        }),
        { numRuns: RUNS },
      );
      assert.equal((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      t.diagnostic(`${twoXX} of ${RUNS} bodies accepted`);
    });
  }

  test('random paths and query strings on the GET routes', async () => {
    const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('fz', '%', '%E0%A4%A', '..', '', 'x'.repeat(300)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/jobs', '/v1/jobs/', '/v1/schedules/', '/api/tasks/', '/v1/schedules/fz/preview'), segment, fc.dictionary(fc.constantFrom('queue', 'state', 'task', 'cursor', 'limit', 'wait', 'count', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 4 }), async (base, seg, q) => {
        const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, k === 'wait' ? '0' : v])).toString();
        const url = `${base}${base.endsWith('/') ? encodeURIComponent(seg) : ''}${qs ? `?${qs}` : ''}`;
        const r = await api.app.inject({ method: 'GET', url });
        assert.ok(r.statusCode < 500, `${url} ${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400) assert.equal(typeof JSON.parse(r.body).error.code, 'string', r.body);
      }),
      { numRuns: 2 * RUNS },
    );
  });
});
