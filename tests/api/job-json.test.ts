// POST /v1/jobs writes a new job's answer by a template (job-json.ts): the same bytes as the job
// view schema's serializer gives for jobView, on payloads of every kind, and no answer at all for
// a job of another shape (the route then serializes jobView as before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { freshJobJson, quote } from '../../src/api/job-json.js';
import { jobView } from '../../src/api/present.js';
import * as S from '../../src/api/schemas/jobs.js';
import { DEFAULTS, newJobView, type Job, type NewJob } from '../../src/core/job.js';
import { startApi, json } from './helpers.js';

/** A server's extra names to mask, beside the secret-looking ones. */
const sensitive = ['aadhaar'];

/** Each job's view as Fastify serializes it under POST /v1/jobs's 201 schema (the route's answer before the template). */
async function viewJsons(jobs: Job[]): Promise<string[]> {
  const app = Fastify();
  app.get('/view/:i', { schema: { response: { 201: S.createJob.response[201] } } }, (req, reply) =>
    reply.code(201).send(jobView(jobs[Number((req.params as { i: string }).i)]!, sensitive)));
  try {
    const out: string[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const r = await app.inject({ method: 'GET', url: `/view/${i}` });
      assert.equal(r.statusCode, 201, r.body);
      out.push(r.body);
    }
    return out;
  } finally {
    await app.close();
  }
}

const T = Date.UTC(2026, 11, 3, 12, 0, 0, 123);
const newJob = (o: Partial<NewJob> = {}): NewJob => ({
  id: '01a23c18-8ca9-707f-8da2-000000000001', queue: 'sms', task: 'sms', payload: null, priority: 1, maxAttempts: 10,
  backoff: DEFAULTS.backoff, timeout: 0, maxStalls: 1, runAt: T, createdAt: T, description: null, tags: [], callbacks: null, scheduleId: null, ...o,
});

const long = 'x'.repeat(50);
const payloads: unknown[] = [
  null, 0, -1.5, 1e21, true, 'text', '', [], {}, [1, 'a', null, { b: [] }],
  { contact: '9876543210', countryCode: 91, message: 'Your OTP is 4711' },
  { to: '+14155550123', text: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 del \u007f' },
  { text: 'unicode é ✓ 漢字 😀 \u2028 \u2029', lone: '\ud800 and \udfff', pair: '\ud83d\ude00' },
  { [`key "quoted" \\ ${long}`]: `${long}"${long}`, long: 'y'.repeat(6000), longEscaped: `${'z'.repeat(6000)}\n` },
  { api_key: 'secret-1', nested: { client_secret: 's', password: 'p', list: [{ token: 't' }] }, 'x-api-key': 'k' },
  { n: -0, big: Number.MAX_SAFE_INTEGER, small: 5e-324, deep: { a: { b: { c: { d: [[[]]] } } } } },
];

test('a new job: the template gives the schema serializer\'s bytes for every payload, id, queue, priority and time', async () => {
  const jobs: Job[] = [];
  for (const payload of payloads) {
    for (const [state, o] of [
      ['queued', {}],
      ['scheduled', { runAt: T + 86_400_000, priority: -1000, maxAttempts: 1, timeout: 86_400_000 }],
      ['queued', { id: 'client "id" \\ ✓', queue: 'a.b:c-d_e', task: 'task with "quotes"', priority: 1000, createdAt: 0, runAt: -1 }],
      ['queued', { id: 'lone \ud800 tab\t \u2028 😀', task: 'nul \u0000 del \u007f \udfff' }],
    ] as const) jobs.push(newJobView(newJob({ payload, ...o }), state));
  }
  const want = await viewJsons(jobs);
  jobs.forEach((j, i) => assert.equal(freshJobJson(j, sensitive), want[i], `payload ${JSON.stringify(j.payload)?.slice(0, 80)} ${j.id} ${j.priority}`));
  assert.equal(jobs.length, payloads.length * 4);
  // Masked as the view masks: the secret is not in the answer.
  const masked = freshJobJson(newJobView(newJob({ payload: payloads[14] }), 'queued'), sensitive)!;
  assert.ok(!masked.includes('secret-1') && JSON.parse(masked).payload.api_key !== 'secret-1');
});

test('one field at a time changed between answers: no text remembered from the job before leaks into the next', async () => {
  // The template keeps the text made for the last queue/task/state/priority, limits and times;
  // each step changes a single one of them, then changes it back.
  const base = newJobView(newJob({ payload: { a: 1 } }), 'queued');
  const steps: Partial<Job>[] = [
    {}, { queue: 'q2' }, {}, { task: 't2' }, {}, { state: 'scheduled' }, {}, { priority: 2 }, {}, { priority: -0 }, {},
    { maxAttempts: 3 }, {}, { timeout: 7 }, {}, { runAt: T + 1 }, {}, { createdAt: T - 1 }, {}, { stalls: 2 }, {},
    { runAt: T + 1000, createdAt: T + 1000 }, { runAt: T + 1001, createdAt: T + 1001 }, { runAt: T + 1001, createdAt: T + 1000 }, {},
  ];
  const jobs = steps.map((o) => ({ ...base, ...o }) as Job);
  const want = await viewJsons(jobs);
  jobs.forEach((j, i) => assert.equal(freshJobJson(j, sensitive), want[i], `step ${i}: ${JSON.stringify(steps[i])}`));
});

test('the payload JSON a store made is the answer\'s when nothing in it is masked, never when something is', () => {
  const plain = newJobView(newJob({ payload: { contact: '9876543210', message: 'hi' } }), 'queued');
  // A text that differs from JSON.stringify(payload) in spacing only shows which one was used.
  const given = '{"contact": "9876543210", "message": "hi"}';
  assert.ok(freshJobJson(plain, sensitive, given)!.includes(`"payload":${given},`));
  assert.ok(freshJobJson(plain, sensitive)!.includes(`"payload":${JSON.stringify(plain.payload)},`));
  const secret = newJobView(newJob({ payload: { to: '+14155550123', api_key: 'secret-9' } }), 'queued');
  const answer = freshJobJson(secret, sensitive, JSON.stringify(secret.payload))!;
  assert.ok(!answer.includes('secret-9'), answer);
  assert.equal(JSON.parse(answer).payload.api_key, '[redacted]');
});

test('a job of another shape gets no template answer (the route serializes its view)', async () => {
  const base = newJobView(newJob({ payload: { a: 1 } }), 'queued');
  const others: Partial<Job>[] = [
    { attempts: 1 }, { state: 'completed', result: { ok: true }, endedAt: T }, { result: 0 }, { error: { message: 'x', retryable: true } },
    { progress: 50 }, { startedAt: T }, { workerId: 'w1' }, { history: [{ attempt: 1, startedAt: T, endedAt: T, outcome: 'failed' }] as never },
    { backoff: { type: 'fixed', delay: 5 } }, { backoff: { ...DEFAULTS.backoff } }, { description: 'd' }, { tags: ['t'] },
    { callbacks: { onSuccess: 'https://x.io' } }, { scheduleId: 's1' }, { cancelRequested: true }, { payload: undefined },
    { priority: 1.5 }, { timeout: 1.5 },
  ];
  for (const o of others) assert.equal(freshJobJson({ ...base, ...o } as Job, sensitive), undefined, JSON.stringify(o));
  assert.equal(freshJobJson(base, sensitive), (await viewJsons([base]))[0]);
});

test('POST /v1/jobs answers the bytes GET /v1/jobs/:id gives for the job, with the same headers as before', async () => {
  const api = await startApi();
  try {
    const bodies = [
      { task: 'sms', payload: { contact: '9876543210', countryCode: 91, message: 'Your OTP is 4711' }, priority: 'high' },
      { task: 'sms', payload: { text: 'quote " \\ \n é 😀', api_key: 'secret-2' }, delay: 60_000, maxAttempts: 3, timeout: 5000 },
      { task: 'sms' },
      // Not the template's shape: answered through the view, as before.
      { task: 'sms', payload: [1, 2], tags: ['a'], description: 'd', backoff: { type: 'fixed', delay: 10 } },
    ];
    for (const body of bodies) {
      const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: body });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      const got = await api.call({ method: 'GET', url: `/v1/jobs/${json(r).id}` });
      assert.equal(r.body, got.body);
    }
    assert.ok(!(await api.call({ method: 'POST', url: '/v1/jobs', payload: bodies[1] })).body.includes('secret-2'));
    // A client id that exists with the same content: 200 with the stored job, the same bytes.
    const first = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', id: 'mine-1', payload: { a: 1 } } });
    const again = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', id: 'mine-1', payload: { a: 1 } } });
    assert.equal(first.statusCode, 201);
    assert.equal(again.statusCode, 200);
    assert.equal(again.body, first.body);
  } finally {
    await api.close();
  }
});

test('quote writes a string as JSON.stringify does, plain ones without calling it', () => {
  const strings = [
    '', 'sms', 'queued', '01a23c18-8ca9-707f-8da2-000000000001', 'a.b:c-d_e', ' spaces and / slash ', 'é ✓ 漢字', '\u007f del', '\u2028\u2029',
    'quote "', 'back \\ slash', 'nul \u0000', 'tab \t', 'newline \n', '\u001f unit separator', 'pair \ud83d\ude00',
    'lone high \ud800', 'lone low \udfff', '\ud800\ud800', '\udfff\ud800', 'end high \ud83d',
  ];
  for (const s of strings) assert.equal(quote(s), JSON.stringify(s), JSON.stringify(s));
  for (let c = 0; c < 0x10000; c++) {
    const s = `a${String.fromCharCode(c)}b`;
    assert.equal(quote(s), JSON.stringify(s), `U+${c.toString(16)}`);
  }
});
