// Golden answers of the compatibility routes: each case runs its requests on a server of its own and
// compares every answer (status and full JSON body) with tests/api/golden/legacy.json. The server's
// clock is a fixed manual one, so times are exact; server-made ids are normalised. The original
// clients parse these answers: a change to one must be deliberate.
// To record a deliberate change: UPDATE_GOLDEN=1 node --test dist/tests/api/legacy-golden.test.js,
// then review the diff of the JSON file.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { startApi, type Api } from './helpers.js';

const GOLDEN = join(process.cwd(), 'tests/api/golden/legacy.json');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

type Step = { method: 'GET' | 'POST'; url: string; body?: unknown; form?: string };
type Answer = { request: string; status: number; body: unknown };

/** The server's time, fixed; AT (epoch seconds) a day later, for due times the client gives. */
const NOW = Date.UTC(2026, 5, 1, 8, 0, 0);
const AT = NOW / 1000 + 86_400;
const SMS = { task: 1, contact: 9876543210, countryCode: 91, message: 'OTP 1234' };

/** The one case run on a server without a mapping task; every other has one. */
const NO_MAPPING = 'mapping: no mapping task registered';

const CASES: Record<string, Step[]> = {
  'queue: JSON body, every envelope field': [
    { method: 'POST', url: '/queue/', body: { payload: SMS, priority: 2, task_type: 'OTP', success_task_handler: 'https://cb.example.com/ok', failed_task_handler: 'https://cb.example.com/ko' } },
  ],
  'queue: given job_id, repeated, then another body under it': [
    { method: 'POST', url: '/queue/', body: { payload: SMS, job_id: 'g-1' } },
    { method: 'POST', url: '/queue/', body: { payload: SMS, job_id: 'g-1' } },
    { method: 'POST', url: '/queue/', body: { payload: { ...SMS, message: 'other' }, job_id: 'g-1' } },
  ],
  'queue: form body': [{ method: 'POST', url: '/queue/', form: new URLSearchParams({ payload: JSON.stringify(SMS), priority: '0', job_id: 'g-form' }).toString() }],
  'queue: refusals': [
    { method: 'POST', url: '/queue/', body: { priority: 1 } },
    { method: 'POST', url: '/queue/', body: { payload: { task: 5 } } },
    { method: 'POST', url: '/queue/', body: { payload: { task: 4, url: 'https://x.example.com', method: 'TRACE' } } },
  ],
  'schedule: schedule_at, ISO, delay': [
    { method: 'POST', url: '/schedule/', body: { payload: SMS, schedule_at: AT, job_id: 'g-at' } },
    { method: 'POST', url: '/schedule/', body: { payload: { task: 2, to: ['a@example.com'], subject: 's' }, schedule_at: new Date(AT * 1000).toISOString(), job_id: 'g-iso' } },
    { method: 'POST', url: '/schedule/', body: { payload: SMS, delay: 120, job_id: 'g-delay' } },
  ],
  'schedule: cron and rrule series': [
    { method: 'POST', url: '/schedule/', body: { payload: SMS, cron: '0 9 * * *', repeat: 3, job_id: 'g-cron' } },
    { method: 'POST', url: '/schedule/', body: { payload: SMS, rrule: 'DTSTART:20260602T090000Z\nRRULE:FREQ=DAILY;COUNT=2', job_id: 'g-rrule' } },
    { method: 'POST', url: '/jobInfo/', body: { job_id: 'g-cron' } },
    { method: 'POST', url: '/rescheduleJob/', body: { job_id: 'g-rrule', schedule_at: AT + 3600 } },
    { method: 'POST', url: '/cancelJob/', body: { job_id: 'g-cron' } },
  ],
  'schedule: refusals': [
    { method: 'POST', url: '/schedule/', body: { payload: SMS } },
    { method: 'POST', url: '/schedule/', body: { payload: SMS, delay: 1, schedule_at: AT } },
  ],
  'jobInfo: a job, a missing one, no id': [
    { method: 'POST', url: '/queue/', body: { payload: { ...SMS, password: 's3cret' }, task_type: 'OTP', job_id: 'g-info' } },
    { method: 'POST', url: '/jobInfo/', body: { job_id: 'g-info' } },
    { method: 'POST', url: '/jobInfo/', body: { job_id: 'nope' } },
    { method: 'POST', url: '/jobInfo/', body: {} },
  ],
  'rescheduleJob, cancelJob twice, retryTask by id, missing ids': [
    { method: 'POST', url: '/schedule/', body: { payload: SMS, schedule_at: AT, job_id: 'g-life' } },
    { method: 'POST', url: '/rescheduleJob/', body: { job_id: 'g-life', schedule_at: AT + 600 } },
    { method: 'POST', url: '/cancelJob/', body: { job_id: 'g-life' } },
    { method: 'POST', url: '/cancelJob/', body: { job_id: 'g-life' } },
    { method: 'POST', url: '/retryTask/', body: { job_id: 'g-life' } },
    { method: 'POST', url: '/cancelJob/', body: { job_id: 'nope' } },
    { method: 'POST', url: '/retryTask/', body: { job_id: 'nope' } },
  ],
  "retryTask: the original worker's list": [{ method: 'POST', url: '/retryTask/', body: [{ payload: SMS, job_id: 'g-old' }, 'ignored'] }],
  'mapping: with payload, bare': [
    { method: 'POST', url: '/mapping/', body: { payload: { lab: 1 }, priority: 0, job_id: 'g-map' } },
    { method: 'POST', url: '/mapping/', body: { lab: 2, dict: ['a'] } },
  ],
  [NO_MAPPING]: [{ method: 'POST', url: '/mapping/', body: { payload: { lab: 1 } } }],
  'update_consent: JSON, form, refusal': [
    { method: 'POST', url: '/update_consent/', body: { contact: '98765 43210', countryCode: 91, consent: true } },
    { method: 'POST', url: '/update_consent/', form: 'contact=5551234&countryCode=1&consent=0' },
    { method: 'POST', url: '/update_consent/', body: { contact: 'abc', countryCode: 91, consent: true } },
  ],
  'api/tasks: create, read, unknown type, bad priority': [
    { method: 'POST', url: '/api/tasks', body: { task_type: 'email_sending', priority: 'high', parameters: { to: 'r@example.com', subject: 'Hi' }, delay: 0 } },
    { method: 'GET', url: '/api/tasks/<id:1>' },
    { method: 'GET', url: '/api/tasks/none' },
    { method: 'POST', url: '/api/tasks', body: { task_type: 'file_processing', parameters: {} } },
    { method: 'POST', url: '/api/tasks', body: { task_type: 'email_sending', priority: 'urgent' } },
  ],
  'remind_me: a reminder series, and a refusal': [
    { method: 'POST', url: '/remind_me', body: { rrule: 'FREQ=DAILY;COUNT=3', start_datetime: AT, notification_metadata: { title: 'Take medicine' } } },
    { method: 'POST', url: '/remind_me', body: { rrule: 'FREQ=SOMETIMES', start_datetime: AT, notification_metadata: {} } },
  ],
};

/**
 * Ids the server made (UUIDv7s, which read the real time) become <id:N>, numbered in order of
 * appearance, so the same id reads the same everywhere.
 */
class Normaliser {
  private ids = new Map<string, string>();
  /** Ids the server made, to put back into later requests (`<id:1>` in a url). */
  real = new Map<string, string>();

  value(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.value(x)]));
    if (typeof v !== 'string') return v;
    // Server-made ids are UUIDv7s, also when quoted inside a message.
    return v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (id) => {
      if (!this.ids.has(id)) {
        const name = `<id:${this.ids.size + 1}>`;
        this.ids.set(id, name);
        this.real.set(name, id);
      }
      return this.ids.get(id)!;
    });
  }
}

async function run(api: Api, steps: Step[]): Promise<Answer[]> {
  const norm = new Normaliser();
  const out: Answer[] = [];
  for (const s of steps) {
    const url = s.url.replace(/<id:\d+>/g, (m) => norm.real.get(m) ?? m);
    const r = await api.app.inject({
      method: s.method, url,
      ...(s.form !== undefined ? { payload: s.form, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
      ...(s.body !== undefined ? { payload: s.body as object } : {}),
    });
    out.push({ request: `${s.method} ${s.url}`, status: r.statusCode, body: norm.value(JSON.parse(r.body)) });
  }
  return out;
}

describe('compatibility routes: golden answers', () => {
  const golden: Record<string, Answer[]> = UPDATE ? {} : JSON.parse(readFileSync(GOLDEN, 'utf8'));
  const recorded: Record<string, Answer[]> = {};

  if (!UPDATE) {
    test('every case has a golden answer and every golden answer a case', () => {
      assert.deepEqual(Object.keys(golden).sort(), Object.keys(CASES).sort());
    });
  }

  for (const [name, steps] of Object.entries(CASES)) {
    test(name, async () => {
      // A server per case: what one case made cannot change another's answers.
      const api = await startApi({
        clock: new ManualClock(NOW),
        setup: (f) => {
          if (name !== NO_MAPPING) f.task('mapping', async () => null);
          f.task('reminder', async () => null, { queue: 'reminders' });
        },
      });
      try {
        const answers = await run(api, steps);
        if (UPDATE) recorded[name] = answers;
        else assert.deepEqual(answers, golden[name]);
      } finally {
        await api.close();
      }
    });
  }

  if (UPDATE) {
    test('write the golden file', () => {
      mkdirSync(dirname(GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, `${JSON.stringify(recorded, null, 2)}\n`);
    });
  }
});
