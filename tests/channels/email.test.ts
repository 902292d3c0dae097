// The email channel in one process: payload forms and checks (library and HTTP), recipient
// screening (validator, blacklist, suppression fed by signed SNS bounce and complaint notifications),
// attachments (download, size limits, SSRF, opt-in deletion), callback_url, and end to end from
// POST /queue/ (task 2) and POST /api/tasks (email_sending) to a real SMTP server and back to
// /jobInfo/ and /api/tasks/:id, on SQLite and on Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import type { Job } from '../../src/core/job.js';
import { FusionError } from '../../src/core/errors.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { parseEmailPayload } from '../../src/channels/email/payload.js';
import { isValidAddress } from '../../src/channels/email/address.js';
import type { SmtpProvider } from '../../src/channels/email/providers/smtp.js';
import { tempDir } from '../helpers/tmp.js';
import { within } from '../helpers/await.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { fileServer, selfSigned, signSns, smtpSink, type SmtpSink } from './email-fixtures.js';

const skipRedis = await redisSkip();
const FAST = { type: 'fixed', delay: 5 } as const;
const BIG = Buffer.alloc(6000, 7);
const PDF = Buffer.from('%PDF-1.4 a lab report\n');

function field(p: unknown): unknown {
  try {
    parseEmailPayload(p);
  } catch (e) {
    assert.ok(e instanceof FusionError);
    return e.details.field;
  }
  return 'accepted';
}

test('payloads: the original worker form and the native form normalise; bad ones name the field', () => {
  const o = parseEmailPayload({
    to: ['p@patient.example'], cc: 'doc@clinic.example; nurse@clinic.example', bcc: [], subject: 'Report', message: '<p>body</p>',
    sender_name: 'CrelioHealth',
    config: { config_fields: [{ name: 'sender_id_email', value: 'lab@lab.example' }, { name: 'reply_to', value: 'help@lab.example' }] },
    files: ['https://files.example/a/report.pdf'], callback_url: 'https://cb.example/done',
  });
  assert.equal(o.original, true);
  assert.deepEqual(o.message.from, { name: 'CrelioHealth', address: 'lab@lab.example' });
  assert.deepEqual([o.message.to, o.message.cc, o.message.replyTo], [['p@patient.example'], ['doc@clinic.example', 'nurse@clinic.example'], ['help@lab.example']]);
  assert.deepEqual(o.message.attachments, [{ url: 'https://files.example/a/report.pdf' }]);
  assert.equal(o.message.html, '<p>body</p>');
  assert.equal(o.message.callbackUrl, 'https://cb.example/done');
  const named = parseEmailPayload({ to: 'p@x.io', subject: 's', message: 'm', sender_name: 'X', config: { config_fields: [{ name: 'sender_id_name', value: 'Lab Name' }, { name: 'sender_id_email', value: 'l@x.io' }] } });
  assert.deepEqual(named.message.from, { name: 'Lab Name', address: 'l@x.io' });
  const t = parseEmailPayload({ to: 'p@x.io', subject: 's', message: '<p>plain</p>', template: '<p>templated</p>', is_template: 1 });
  assert.equal(t.message.html, '<p>templated</p>');
  const n = parseEmailPayload({ from: 'Ops <ops@lab.example>', to: 'a@x.io', subject: 's', html: '<b>h</b>', text: 't', attachments: [{ url: 'https://f.example/1', filename: 'one.csv' }], headers: { 'X-Ref': 7 }, deleteFilesAfterSend: true });
  assert.equal(n.original, false);
  assert.deepEqual([n.message.from, n.message.text, n.message.attachments, n.message.headers, n.message.deleteFilesAfterSend], [{ name: 'Ops', address: 'ops@lab.example' }, 't', [{ url: 'https://f.example/1', filename: 'one.csv' }], { 'X-Ref': '7' }, true]);

  assert.equal(field({ subject: 's' }), 'to');
  assert.equal(field({ to: 5, subject: 's' }), 'to');
  assert.equal(field({ to: ['nope'], subject: 's' }), 'to');
  assert.equal(field({ to: ['a@x.io', 3], subject: 's' }), 'to.1');
  assert.equal(field({ to: 'a@x.io' }), 'subject');
  assert.equal(field({ to: 'a@x.io', subject: 'line\r\nBcc: evil@x.io' }), 'subject');
  assert.equal(field({ to: 'a@x.io', subject: 's', from: 'not-an-address' }), 'from');
  assert.equal(field({ to: 'a@x.io', subject: 's', files: [1] }), 'files.0');
  assert.equal(field({ to: 'a@x.io', subject: 's', files: ['file:///etc/passwd'] }), 'files.0');
  assert.equal(field({ to: 'a@x.io', subject: 's', html: 'x', attachments: [{ filename: 'x' }] }), 'attachments.0.url');
  assert.equal(field({ to: 'a@x.io', subject: 's', html: 'x', headers: { 'X-A': 'v\nBcc: e@x.io' } }), 'headers.X-A');
  assert.equal(field({ to: 'a@x.io', subject: 's', html: 'x', headers: { Bcc: 'e@x.io' } }), 'headers.Bcc');
  assert.equal(field({ to: 'a@x.io', subject: 's', message: 'm', config: { config_fields: [{ name: 'sender_id_email', value: 'bad' }] } }), 'config.config_fields.sender_id_email');
  assert.equal(field({ to: Array.from({ length: 51 }, (_, i) => `r${i}@x.io`), subject: 's' }), 'to');
  assert.equal(field('mail'), '');
});

test('addresses: validator accepts plus addressing and long TLDs, which the original regex refused', () => {
  const ORIGINAL = /^\w+([.-]?\w+)*@\w+([.-]?\w+)*(\.\w{2,3})+$/;
  for (const a of ['a+b@x.io', 'lab@results.photography', 'first.last@sub.example.museum']) {
    assert.equal(ORIGINAL.test(a), false, `the original refused ${a}`);
    assert.equal(isValidAddress(a), true, `${a} is valid`);
    assert.equal(field({ to: a, subject: 's' }), 'accepted');
  }
  for (const a of ['plain', 'a@b', 'a@@x.io', 'a b@x.io', 'a@127.0.0.1', `${'x'.repeat(250)}@x.io`]) assert.equal(isValidAddress(a), false, `${a} is invalid`);
});

interface Harness {
  fusion: Fusion;
  app: Awaited<ReturnType<typeof buildServer>>;
  sink: SmtpSink;
  files: Awaited<ReturnType<typeof fileServer>>;
  settled(id: string): Promise<Job>;
  call(method: string, url: string, payload?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

const KEYS = selfSigned();

async function harness(store: { url: string; options?: Record<string, unknown>; cleanup?: (f: Fusion) => Promise<void> }): Promise<Harness> {
  const sink = await smtpSink();
  const files = await fileServer({
    '/files/report.pdf': (req) => (req.method === 'DELETE' ? { status: 204 } : { headers: { 'content-type': 'application/pdf', 'content-length': String(PDF.length) }, body: PDF }),
    '/files/big.bin': () => ({ headers: { 'content-type': 'application/octet-stream' }, chunks: [BIG.subarray(0, 3000), BIG.subarray(3000)] }),
    '/files/flaky': () => ({ status: 503, body: 'try later' }),
    '/cert.pem': () => ({ headers: { 'content-type': 'application/x-pem-file' }, body: KEYS.cert }),
    '/confirm': () => ({ body: '<ConfirmSubscriptionResponse/>' }),
    '/callback': () => ({ status: 200, body: 'ok' }),
  });
  const fusion = await Fusion.open({
    store: store.url,
    storeOptions: store.options,
    config: {
      channels: {
        email: {
          providers: { relay: { type: 'smtp', host: '127.0.0.1', port: sink.port, requireTLS: false, from: 'Fusion Lab <noreply@lab.example>' } },
          routes: { default: ['relay'] },
          blacklist: ['custom@block.example'],
          attachments: { maxFileBytes: 4096 },
          notifications: { urlPattern: `^${files.base.replace(/[.]/g, '\\.')}/` },
        } as never,
      },
      outgoing: { allow: ['127.0.0.1/32'] },
    },
  });
  const app = await buildServer({ fusion, processMetrics: false });
  await app.ready();
  fusion.worker({ queues: ['email', 'callbacks'], concurrency: 4, pollMs: 20 });
  return {
    fusion, app, sink, files,
    settled: (id) => within((async () => {
      for (;;) {
        const j = await fusion.store.getJob({ id });
        if (j && ['completed', 'failed', 'cancelled'].includes(j.state)) return j;
        await new Promise((r) => setTimeout(r, 10));
      }
    })(), 10_000, `job ${id} settles`),
    async call(method, url, payload, headers) {
      const r = await app.inject({ method: method as 'POST', url, payload: payload as object, headers });
      return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
    },
    async close() {
      (fusion.channels.providers!.email!.relay as SmtpProvider).close();
      await app.close();
      await store.cleanup?.(fusion);
      await fusion.close(500);
      await sink.close();
      await files.close();
    },
  };
}

function sqlite(): { url: string; remove(): void } {
  const tmp = tempDir('fusion-email-');
  return { url: `sqlite:${join(tmp.dir, 'f.db')}`, remove: tmp.remove };
}

test('email channel on SQLite: screening, suppression from signed notifications, attachments, callback_url', { timeout: 60_000 }, async (t) => {
  const db = sqlite();
  const h = await harness({ url: db.url });
  t.after(async () => {
    await h.close();
    db.remove();
  });

  await t.test('a bad payload is refused at enqueue over HTTP, naming the field', async () => {
    const r = await h.call('POST', '/v1/jobs', { task: 'email', payload: { to: ['nobody'], subject: 's' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.details.field, 'payload.to');
  });

  await t.test('invalid, duplicate and blacklisted recipients are dropped and listed; the text part comes from the HTML', async () => {
    const job = await h.fusion.enqueue('email', {
      to: ['ok@patient.example', 'na@na.com', 'bad@@x'], cc: ['OK@patient.example', 'custom@Block.example'], subject: 'Screened',
      html: '<h1>Result</h1><p>Hello <a href="https://lab.example/r/1">your report</a></p>',
    });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const got = h.sink.received.at(-1)!;
    assert.deepEqual(got.rcpt, ['ok@patient.example']);
    assert.match(got.mail.text ?? '', /Hello your report \[https:\/\/lab\.example\/r\/1\]/);
    assert.equal(got.mail.from?.text, '"Fusion Lab" <noreply@lab.example>');
    const r = done.result as any;
    assert.deepEqual(r.dropped.map((d: any) => `${d.field}:${d.address}:${d.reason}`), ['to:na@na.com:blacklisted', 'to:bad@@x:invalid', 'cc:OK@patient.example:duplicate', 'cc:custom@block.example:blacklisted']);
    assert.equal(r.messageId, got.mail.messageId);
    assert.deepEqual(r.recipients, { to: 1, cc: 0, bcc: 0 });
  });

  await t.test('no To left (blacklisted): the Bcc recipients get the mail, none named in its headers (To: Undisclosed recipients:;)', async () => {
    const job = await h.fusion.enqueue('email', { to: ['na@na.com'], bcc: ['alice@patient.example', 'bob@patient.example'], subject: 'Clinic closed Friday', text: 'hi' });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const got = h.sink.received.at(-1)!;
    assert.deepEqual(got.rcpt.sort(), ['alice@patient.example', 'bob@patient.example']);
    const head = got.raw.toString().split('\r\n\r\n')[0]!;
    assert.match(head, /^To: Undisclosed recipients:;$/m);
    assert.doesNotMatch(head, /alice@|bob@/, 'every Bcc recipient reads the same headers: no one of them is named there');
    assert.deepEqual((done.result as any).recipients, { to: 0, cc: 0, bcc: 2 });
  });

  await t.test('recipients refused at RCPT TO: a 4xx retries the attempt for those only (headers unchanged), a 5xx is dropped', async () => {
    h.sink.refuseRcpt('later@clinic.example', 450);
    h.sink.refuseRcpt('gone@clinic.example', 550);
    const before = h.sink.received.length;
    const job = await h.fusion.enqueue({ task: 'email', payload: { to: 'patient@patient.example', cc: ['later@clinic.example', 'gone@clinic.example'], subject: 'Report', text: 'hi' }, maxAttempts: 3, backoff: FAST });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    assert.deepEqual(done.history[0]!.details, { provider: 'relay', code: 'smtp_450', retryable: true, failover: false, deferred: ['later@clinic.example'] });
    assert.match(done.history[0]!.error!, /1 recipient\(s\) refused the mail for now \(later@clinic\.example: smtp_450 .*\); 1 took it/);
    const [first, second] = h.sink.received.slice(before);
    assert.equal(h.sink.received.length, before + 2, 'one mail per attempt');
    assert.deepEqual(first!.rcpt, ['patient@patient.example']);
    assert.deepEqual(second!.rcpt, ['later@clinic.example'], 'the retry goes to the recipient refused for now only: the patient does not get it twice');
    assert.equal(second!.mail.to && 'text' in second!.mail.to ? second!.mail.to.text : '', 'patient@patient.example', 'the retry\'s headers name the whole mail\'s recipients');
    const r = done.result as any;
    assert.deepEqual(r.dropped.map((d: any) => `${d.field}:${d.address}:${d.reason}`), ['cc:gone@clinic.example:refused']);
    assert.match(r.dropped[0].detail, /^smtp_550: 550 /);
    assert.deepEqual(r.earlierSends, [{ provider: 'relay', messageId: first!.mail.messageId, recipients: 1 }]);
    assert.equal(r.messageId, second!.mail.messageId);
  });

  await t.test('no recipient left: failed at once, not retried', async () => {
    const job = await h.fusion.enqueue({ task: 'email', payload: { to: ['na@na.com', 'lifecare1@gmail.com'], subject: 'x', message: 'y' }, maxAttempts: 3, backoff: FAST });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.attempts, 1);
    assert.match(done.error!.message, /no recipient left.*na@na\.com: blacklisted/);
  });

  await t.test('a signed SES bounce (SNS v2) suppresses the address and marks the sent mail undelivered; a bad signature is refused', async () => {
    const sent = await h.fusion.enqueue('email', { to: 'gone@patient.example', subject: 'first', text: 'hi' });
    const first = await h.settled(sent.id);
    const messageId = (first.result as any).messageId as string;
    const event = {
      notificationType: 'Bounce',
      bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'gone@patient.example', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] },
      mail: { messageId, destination: ['gone@patient.example'] },
    };
    const base = { Type: 'Notification', MessageId: 'sns-1', TopicArn: 'arn:aws:sns:us-east-1:123:ses-bounces', Message: JSON.stringify(event), Timestamp: new Date().toISOString(), SigningCertURL: `${h.files.base}/cert.pem` };
    const url = '/v1/providers/email/relay/reports';
    const signed = signSns(base, KEYS.key, '2');

    const tampered = { ...signed, Message: JSON.stringify({ ...event, bounce: { ...event.bounce, bouncedRecipients: [{ emailAddress: 'victim@patient.example' }] } }) };
    const bad = await h.call('POST', url, JSON.stringify(tampered), { 'content-type': 'text/plain; charset=UTF-8' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'bad_signature');
    const foreign = signSns({ ...base, SigningCertURL: 'https://evil.example/cert.pem' }, KEYS.key, '2');
    assert.equal((await h.call('POST', url, JSON.stringify(foreign), { 'content-type': 'text/plain' })).status, 401);

    const ok = await h.call('POST', url, JSON.stringify(signed), { 'content-type': 'text/plain; charset=UTF-8' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, { received: 1, matched: 1, updated: 1 });
    const view = await h.call('GET', `/v1/jobs/${sent.id}`);
    assert.equal(view.body.delivery?.status ?? view.body.job?.delivery?.status, 'undelivered');

    // A complaint, signed with SignatureVersion 1 (SHA1).
    const complaint = signSns({ ...base, MessageId: 'sns-2', Message: JSON.stringify({ notificationType: 'Complaint', complaint: { complainedRecipients: [{ emailAddress: 'Angry@Patient.example' }], complaintFeedbackType: 'abuse' }, mail: { messageId: 'unknown' } }) }, KEYS.key, '1');
    assert.equal((await h.call('POST', url, JSON.stringify(complaint), { 'content-type': 'text/plain' })).status, 200);

    const next = await h.fusion.enqueue('email', { to: ['gone@patient.example', 'angry@patient.example', 'fine@patient.example'], subject: 'again', text: 'hi' });
    const done = await h.settled(next.id);
    assert.equal(done.state, 'completed');
    assert.deepEqual(h.sink.received.at(-1)!.rcpt, ['fine@patient.example']);
    const dropped = (done.result as any).dropped;
    assert.deepEqual(dropped.map((d: any) => `${d.address}:${d.reason}`), ['gone@patient.example:suppressed', 'angry@patient.example:suppressed']);
    assert.match(dropped[0].detail, /^bounce \(Permanent\/General: smtp; 550 5\.1\.1 user unknown\) since /);
    assert.match(dropped[1].detail, /^complaint \(abuse\)/);
    assert.equal((await h.fusion.store.getJob({ id: done.id }))?.state, 'completed');
    const only = await h.fusion.enqueue({ task: 'email', payload: { to: 'gone@patient.example', subject: 'x', text: 'y' }, maxAttempts: 3 });
    const failed = await h.settled(only.id);
    assert.deepEqual([failed.state, failed.attempts], ['failed', 1]);
  });

  await t.test('an SNS SubscriptionConfirmation is verified, then confirmed through the guard', async () => {
    const confirmUrl = `${h.files.base}/confirm?Action=ConfirmSubscription&Token=tok-1`;
    const m = signSns({ Type: 'SubscriptionConfirmation', MessageId: 'sub-1', Token: 'tok-1', TopicArn: 'arn:aws:sns:us-east-1:123:ses-bounces', Message: 'You have chosen to subscribe', SubscribeURL: confirmUrl, Timestamp: new Date().toISOString(), SigningCertURL: `${h.files.base}/cert.pem` }, KEYS.key, '1');
    const before = h.files.requests.filter((r) => r.path.startsWith('/confirm')).length;
    const r = await h.call('POST', '/v1/providers/email/relay/reports', JSON.stringify(m), { 'content-type': 'text/plain' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { received: 0, matched: 0, updated: 0 });
    assert.deepEqual(h.files.requests.filter((x) => x.path.startsWith('/confirm')).map((x) => x.method), [...Array(before).fill('GET'), 'GET']);
  });

  await t.test('attachments: downloaded through the guard and attached; sources deleted when asked; callback_url told', async () => {
    const job = await h.fusion.enqueue('email', { to: 'p@patient.example', subject: 'Report', message: '<p>attached</p>', files: [`${h.files.base}/files/report.pdf?X-Amz-Signature=abc`], deleteFilesAfterSend: true, callback_url: `${h.files.base}/callback` });
    const done = await h.settled(job.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    const got = h.sink.received.at(-1)!;
    assert.equal(got.mail.attachments.length, 1);
    assert.equal(got.mail.attachments[0]!.filename, 'report.pdf');
    assert.deepEqual(got.mail.attachments[0]!.content, PDF);
    const r = done.result as any;
    assert.deepEqual(r.attachments, [{ filename: 'report.pdf', contentType: 'application/pdf', bytes: PDF.length }]);
    assert.deepEqual(r.deletedFiles, [{ url: `${h.files.base}/files/report.pdf?…`, deleted: true, status: 204 }]);
    assert.ok(h.files.requests.some((x) => x.method === 'DELETE' && x.path.startsWith('/files/report.pdf')));
    const cb = await h.settled(`${job.id}:callback_url`);
    assert.equal(cb.state, 'completed');
    assert.equal(cb.maxAttempts, 20, 'a callback\'s attempts (callback-retry.ts), not a job\'s');
    assert.ok(h.files.requests.some((x) => x.method === 'POST' && x.path === '/callback'));
  });

  await t.test('attachment limits and SSRF: too large and private addresses fail at once; a failed download is retried', async () => {
    const big = await h.fusion.enqueue({ task: 'email', payload: { to: 'p@patient.example', subject: 'big', message: 'x', files: [`${h.files.base}/files/big.bin`] }, maxAttempts: 3, backoff: FAST });
    const b = await h.settled(big.id);
    assert.deepEqual([b.state, b.attempts], ['failed', 1]);
    assert.match(b.error!.message, /larger than the per-file limit of 4096 bytes/);
    const ssrf = await h.fusion.enqueue({ task: 'email', payload: { to: 'p@patient.example', subject: 'ssrf', message: 'x', files: ['http://127.0.0.2:9/latest/meta-data', 'http://169.254.169.254/latest'] }, maxAttempts: 3, backoff: FAST });
    const s = await h.settled(ssrf.id);
    assert.deepEqual([s.state, s.attempts], ['failed', 1]);
    assert.match(s.error!.message, /refused to reach 127\.0\.0\.2/);
    const flaky = await h.fusion.enqueue({ task: 'email', payload: { to: 'p@patient.example', subject: 'flaky', message: 'x', files: [`${h.files.base}/files/flaky`] }, maxAttempts: 2, backoff: FAST });
    const f = await h.settled(flaky.id);
    assert.deepEqual([f.state, f.attempts], ['failed', 2]);
    assert.match(f.error!.message, /answered 503/);
  });
});

async function endToEnd(h: Harness): Promise<void> {
  const q = await h.call('POST', '/queue/', {
    payload: {
      task: 2, to: ['patient+lab@results.example'], cc: [], bcc: [], subject: 'Lab report ready', message: '<p>Your report is ready.</p>',
      sender_name: 'CrelioHealth', config: { config_fields: [{ name: 'sender_id_email', value: 'reports@crelio.example' }, { name: 'reply_to', value: 'care@crelio.example' }] },
    },
    priority: 1, task_type: 'REPORT',
  });
  assert.equal(q.status, 200, JSON.stringify(q.body));
  const got = await within(h.sink.nth(1), 10_000, 'the SMTP server receives the mail');
  assert.deepEqual(got.rcpt, ['patient+lab@results.example']);
  assert.deepEqual(got.mail.from?.value, [{ name: 'CrelioHealth', address: 'reports@crelio.example' }]);
  assert.equal(got.mail.replyTo?.text, 'care@crelio.example');
  assert.equal(got.mail.text?.trim(), 'Your report is ready.');
  await h.settled(q.body.job_id);
  const info = await h.call('POST', '/jobInfo/', { job_id: q.body.job_id });
  assert.equal(info.body.status, 'finished');
  assert.equal(info.body.queue, 'email');
  assert.equal(info.body.result.provider, 'relay');
  assert.equal(info.body.result.messageId, got.mail.messageId);
  assert.equal(info.body.delivery_status, 'sent');

  const c = await h.call('POST', '/api/tasks', { task_type: 'email_sending', priority: 'high', parameters: { to: 'ops@results.example', subject: 'Celery-style', message: '<p>hi</p>' } });
  assert.equal(c.status, 202);
  const mail2 = await within(h.sink.nth(2), 10_000, 'the email_sending task arrives');
  assert.deepEqual(mail2.rcpt, ['ops@results.example']);
  await h.settled(c.body.task_id);
  const t = await h.call('GET', `/api/tasks/${c.body.task_id}`);
  assert.equal(t.body.status, 'SUCCESS');
  assert.equal(t.body.result.messageId, mail2.mail.messageId);
}

test('end to end on SQLite: POST /queue/ task 2 and /api/tasks email_sending → SMTP server → /jobInfo/ and /api/tasks/:id', { timeout: 60_000 }, async () => {
  const db = sqlite();
  const h = await harness({ url: db.url });
  try {
    await endToEnd(h);
  } finally {
    await h.close();
    db.remove();
  }
});

test('end to end on Redis: POST /queue/ task 2 and /api/tasks email_sending → SMTP server → /jobInfo/ and /api/tasks/:id', { skip: skipRedis, timeout: 60_000 }, async () => {
  const prefix = testPrefix();
  const h = await harness({ url: REDIS_URL, options: { prefix }, cleanup: async (f) => void (await dropPrefix((f.store as RedisStore).client, prefix)) });
  try {
    await endToEnd(h);
  } finally {
    await h.close();
  }
});
