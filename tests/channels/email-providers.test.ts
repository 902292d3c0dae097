// Email providers against local servers that play them: SES (SESv2 over HTTP through the SDK), SendGrid
// and Postmark over HTTP (the exact request asserted), SMTP against a real in-process SMTP server
// (STARTTLS, auth, the MIME that arrives parsed with mailparser, attachments included), and each
// adapter's error classification.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { ProviderError, type ProviderContext } from '../../src/channels/provider.js';
import type { OutgoingEmail } from '../../src/channels/email/message.js';
import { EMAIL_PROVIDERS } from '../../src/channels/email/providers/index.js';
import { ses } from '../../src/channels/email/providers/ses.js';
import { sendgrid } from '../../src/channels/email/providers/sendgrid.js';
import { postmark } from '../../src/channels/email/providers/postmark.js';
import { smtp, type SmtpProvider } from '../../src/channels/email/providers/smtp.js';
import { readSesEvent } from '../../src/channels/email/ses-events.js';
import { stage } from './providers/stand-in.js';
import { selfSigned, smtpSink } from './email-fixtures.js';

const { server, dispatcher } = await stage();
const ctx = (): ProviderContext => ({ signal: new AbortController().signal, dispatcher, now: () => Date.now(), jobId: 'job-42', attempt: 1 });

const PDF = Buffer.from('%PDF-1.4 fusion test file\n');
const mail = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  from: { name: 'Crelio Labs', address: 'reports@lab.example' },
  replyTo: ['help@lab.example'],
  to: ['a+b@patient.example'],
  cc: ['doctor@clinic.example'],
  bcc: ['audit@lab.example'],
  subject: 'Your report',
  html: '<p>Hello <b>there</b></p>',
  text: 'Hello there',
  attachments: [{ filename: 'report.pdf', contentType: 'application/pdf', content: PDF }],
  headers: { 'X-Lab-Ref': 'R-7' },
  ...over,
});

async function refused(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    return e;
  }
  assert.fail('the send was expected to fail');
}

test('catalogue: unique types, every secret declared in its schema, missing credentials refused at create', () => {
  const types = EMAIL_PROVIDERS.map((f) => f.type);
  assert.deepEqual(types, ['ses', 'smtp', 'sendgrid', 'postmark']);
  for (const f of EMAIL_PROVIDERS) {
    assert.equal(f.channel, 'email');
    const props = (f.configSchema as { properties: Record<string, unknown> }).properties;
    for (const s of f.secrets) assert.ok(props[s], `${f.type}: secret ${s} is in its schema`);
    assert.throws(() => f.create('x', {}), /is required/);
  }
  assert.throws(() => sendgrid.create('x', { apiKey: 'k', from: 'not an address' }), /not an email address/);
});

test('ses: SESv2 SendEmail, signed, raw MIME with the attachment, Bcc only in Destination, lh_email_tracker', async () => {
  const p = ses.create('ses-main', { region: 'us-east-1', accessKeyId: 'AKIDTEST', secretAccessKey: 'ses-secret-xyz', baseUrl: server.base });
  server.reply({ status: 200, body: { MessageId: '0100018f-ses-id' } });
  const r = await p.send(mail(), ctx());
  assert.equal(r.messageId, '0100018f-ses-id');
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v2/email/outbound-emails');
  assert.match(String(req.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/ses\/aws4_request, SignedHeaders=.*, Signature=[0-9a-f]{64}$/);
  const { Content, ...rest } = req.json;
  assert.deepEqual(rest, {
    FromEmailAddress: 'Crelio Labs <reports@lab.example>',
    Destination: { ToAddresses: ['a+b@patient.example'], CcAddresses: ['doctor@clinic.example'], BccAddresses: ['audit@lab.example'] },
    ReplyToAddresses: ['help@lab.example'],
    ConfigurationSetName: 'lh_email_tracker',
    EmailTags: [{ Name: 'fusion_job_id', Value: 'job-42' }],
  });
  const raw = Buffer.from(Content.Raw.Data, 'base64');
  assert.doesNotMatch(raw.toString(), /^bcc:/im);
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, 'Your report');
  assert.equal(parsed.text?.trim(), 'Hello there');
  assert.equal(parsed.html, '<p>Hello <b>there</b></p>');
  assert.equal(parsed.headers.get('x-lab-ref'), 'R-7');
  assert.equal(parsed.attachments.length, 1);
  assert.equal(parsed.attachments[0]!.filename, 'report.pdf');
  assert.deepEqual(parsed.attachments[0]!.content, PDF);
  assert.ok(!JSON.stringify(r).includes('ses-secret-xyz'));

  const none = ses.create('ses-plain', { region: 'eu-west-1', accessKeyId: 'AKIDTEST', secretAccessKey: 's3cret', configurationSet: '', baseUrl: server.base });
  const before = server.requests.length;
  const nosender = await refused(none.send(mail({ from: undefined }), ctx()));
  assert.deepEqual([nosender.code, nosender.retryable, server.requests.length], ['no_sender', false, before]);
  server.reply({ status: 200, body: { MessageId: 'm2' } });
  const withFrom = ses.create('ses-from', { region: 'eu-west-1', accessKeyId: 'AKIDTEST', secretAccessKey: 's3cret', configurationSet: '', from: 'Ops <ops@lab.example>', baseUrl: server.base });
  await withFrom.send(mail({ from: undefined }), ctx());
  assert.equal(server.requests.at(-1)!.json.FromEmailAddress, 'Ops <ops@lab.example>');
  assert.equal(server.requests.at(-1)!.json.ConfigurationSetName, undefined);
});

test('ses: errors classified as the original listed them', async () => {
  const p = ses.create('ses-err', { region: 'us-east-1', accessKeyId: 'AKIDTEST', secretAccessKey: 'ses-secret-xyz', baseUrl: server.base });
  const cases: [number, string, boolean][] = [
    [400, 'MessageRejected', false],
    [400, 'MailFromDomainNotVerifiedException', false],
    [400, 'BadRequestException', false],
    [400, 'SendingPausedException', true],
    [400, 'AccountSendingPausedException', true],
    [400, 'ConfigurationSetSendingPausedException', true],
    [429, 'TooManyRequestsException', true],
    [400, 'Throttling', true],
    [500, 'InternalServiceErrorException', true],
    [503, 'ServiceUnavailable', true],
  ];
  for (const [status, code, retryable] of cases) {
    server.reply({ status, headers: { 'x-amzn-errortype': code }, body: { message: `${code} happened` } });
    const e = await refused(p.send(mail(), ctx()));
    assert.equal(e.code, code, `${code}: code kept`);
    assert.equal(e.retryable, retryable, `${code}: retryable ${retryable}`);
    assert.equal(e.status, status);
  }
});

test('sendgrid: POST /v3/mail/send with Bearer, one personalization, base64 attachment; id from X-Message-Id', async () => {
  const p = sendgrid.create('sg', { apiKey: 'SG.key-123', baseUrl: server.base });
  server.reply({ status: 202, headers: { 'x-message-id': 'sg-msg-1' } });
  const r = await p.send(mail(), ctx());
  assert.equal(r.messageId, 'sg-msg-1');
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v3/mail/send');
  assert.equal(req.headers.authorization, 'Bearer SG.key-123');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(req.json, {
    personalizations: [{ to: [{ email: 'a+b@patient.example' }], cc: [{ email: 'doctor@clinic.example' }], bcc: [{ email: 'audit@lab.example' }] }],
    from: { email: 'reports@lab.example', name: 'Crelio Labs' },
    reply_to: { email: 'help@lab.example' },
    subject: 'Your report',
    content: [{ type: 'text/plain', value: 'Hello there' }, { type: 'text/html', value: '<p>Hello <b>there</b></p>' }],
    attachments: [{ content: PDF.toString('base64'), filename: 'report.pdf', type: 'application/pdf', disposition: 'attachment' }],
    headers: { 'X-Lab-Ref': 'R-7' },
    custom_args: { fusion_job_id: 'job-42' },
  });
  server.reply({ status: 400, body: { errors: [{ message: 'The from address does not match a verified Sender Identity.', field: 'from' }] } });
  const bad = await refused(p.send(mail(), ctx()));
  assert.deepEqual([bad.code, bad.retryable, bad.status], ['sendgrid_from', false, 400]);
  server.reply({ status: 429, headers: { 'retry-after': '7' }, body: { errors: [{ message: 'too many' }] } });
  const slow = await refused(p.send(mail(), ctx()));
  assert.deepEqual([slow.code, slow.retryable, slow.retryAfterMs], ['http_429', true, 7000]);
  assert.ok(!bad.message.includes('SG.key-123'));
});

test('no To left: SendGrid (which needs a to in every personalization) gets one per Bcc recipient, or the first Cc; SES and Postmark send with no To', async () => {
  const sg = sendgrid.create('sg', { apiKey: 'SG.key-123', baseUrl: server.base });
  server.reply({ status: 202, headers: { 'x-message-id': 'sg-bcc' } });
  await sg.send(mail({ to: [], cc: [], bcc: ['alice@patient.example', 'bob@patient.example'] }), ctx());
  assert.deepEqual(server.requests.at(-1)!.json.personalizations, [{ to: [{ email: 'alice@patient.example' }] }, { to: [{ email: 'bob@patient.example' }] }]);
  server.reply({ status: 202, headers: { 'x-message-id': 'sg-cc' } });
  await sg.send(mail({ to: [], cc: ['doctor@clinic.example', 'nurse@clinic.example'], bcc: ['audit@lab.example'] }), ctx());
  assert.deepEqual(server.requests.at(-1)!.json.personalizations, [{ to: [{ email: 'doctor@clinic.example' }], cc: [{ email: 'nurse@clinic.example' }], bcc: [{ email: 'audit@lab.example' }] }]);

  const p = ses.create('ses-main', { region: 'us-east-1', accessKeyId: 'AKIDTEST', secretAccessKey: 'ses-secret-xyz', baseUrl: server.base });
  server.reply({ status: 200, body: { MessageId: 'ses-bcc' } });
  await p.send(mail({ to: [], cc: [], bcc: ['alice@patient.example', 'bob@patient.example'] }), ctx());
  const req = server.requests.at(-1)!;
  assert.deepEqual(req.json.Destination, { BccAddresses: ['alice@patient.example', 'bob@patient.example'] });
  const head = Buffer.from(req.json.Content.Raw.Data, 'base64').toString().split('\r\n\r\n')[0]!;
  assert.match(head, /^To: Undisclosed recipients:;$/m);
  assert.doesNotMatch(head, /alice@|bob@/);

  const pm = postmark.create('pm', { serverToken: 'pm-token-456', baseUrl: server.base });
  server.reply({ status: 200, body: { MessageID: 'pm-bcc', ErrorCode: 0, Message: 'OK' } });
  await pm.send(mail({ to: [], cc: [], bcc: ['alice@patient.example', 'bob@patient.example'] }), ctx());
  const body = server.requests.at(-1)!.json;
  assert.deepEqual([body.To, body.Cc, body.Bcc], [undefined, undefined, 'alice@patient.example, bob@patient.example']);
});

test('a retry\'s envelope (the recipients an earlier send left): SES narrows Destination only, SendGrid and Postmark send to those recipients only', async () => {
  const envelope = ['doctor@clinic.example'];
  const p = ses.create('ses-main', { region: 'us-east-1', accessKeyId: 'AKIDTEST', secretAccessKey: 'ses-secret-xyz', baseUrl: server.base });
  server.reply({ status: 200, body: { MessageId: 'ses-retry' } });
  await p.send(mail({ envelope }), ctx());
  const req = server.requests.at(-1)!;
  assert.deepEqual(req.json.Destination, { CcAddresses: ['doctor@clinic.example'] });
  const parsed = await simpleParser(Buffer.from(req.json.Content.Raw.Data, 'base64'));
  assert.deepEqual([parsed.to, parsed.cc].map((a) => (a as { text: string }).text), ['a+b@patient.example', 'doctor@clinic.example']);

  server.reply({ status: 202, headers: { 'x-message-id': 'sg-retry' } });
  await sendgrid.create('sg', { apiKey: 'SG.key-123', baseUrl: server.base }).send(mail({ envelope }), ctx());
  assert.deepEqual(server.requests.at(-1)!.json.personalizations, [{ to: [{ email: 'doctor@clinic.example' }] }]);
  server.reply({ status: 200, body: { MessageID: 'pm-retry', ErrorCode: 0, Message: 'OK' } });
  await postmark.create('pm', { serverToken: 'pm-token-456', baseUrl: server.base }).send(mail({ envelope }), ctx());
  const body = server.requests.at(-1)!.json;
  assert.deepEqual([body.To, body.Cc, body.Bcc], [undefined, 'doctor@clinic.example', undefined]);
});

test('postmark: POST /email with X-Postmark-Server-Token; MessageID; ErrorCode kept', async () => {
  const p = postmark.create('pm', { serverToken: 'pm-token-456', baseUrl: server.base, messageStream: 'reports' });
  server.reply({ status: 200, body: { To: 'a+b@patient.example', SubmittedAt: '2024-01-01T00:00:00Z', MessageID: 'pm-msg-1', ErrorCode: 0, Message: 'OK' } });
  const r = await p.send(mail(), ctx());
  assert.equal(r.messageId, 'pm-msg-1');
  const req = server.requests.at(-1)!;
  assert.equal(req.url, '/email');
  assert.equal(req.headers['x-postmark-server-token'], 'pm-token-456');
  assert.equal(req.headers.accept, 'application/json');
  assert.deepEqual(req.json, {
    From: 'Crelio Labs <reports@lab.example>',
    To: 'a+b@patient.example',
    Cc: 'doctor@clinic.example',
    Bcc: 'audit@lab.example',
    ReplyTo: 'help@lab.example',
    Subject: 'Your report',
    HtmlBody: '<p>Hello <b>there</b></p>',
    TextBody: 'Hello there',
    MessageStream: 'reports',
    Headers: [{ Name: 'X-Lab-Ref', Value: 'R-7' }],
    Attachments: [{ Name: 'report.pdf', Content: PDF.toString('base64'), ContentType: 'application/pdf' }],
    Metadata: { fusion_job_id: 'job-42' },
  });
  server.reply({ status: 422, body: { ErrorCode: 406, Message: 'You tried to send to a recipient that has been marked as inactive.' } });
  const inactive = await refused(p.send(mail(), ctx()));
  assert.deepEqual([inactive.code, inactive.retryable], ['postmark_406', false]);
  server.reply({ status: 500, body: { ErrorCode: 0, Message: 'oops' } });
  assert.equal((await refused(p.send(mail(), ctx()))).retryable, true);
});

test('smtp: STARTTLS and auth against a real SMTP server; the MIME that arrives, attachment included', async () => {
  const tls = selfSigned();
  const sink = await smtpSink({ tls, auth: { user: 'fusion', pass: 'smtp-pass-9' } });
  const p = smtp.create('relay', { host: '127.0.0.1', port: sink.port, user: 'fusion', password: 'smtp-pass-9', ca: tls.cert }) as SmtpProvider;
  after(async () => {
    p.close();
    await sink.close();
  });
  const r = await p.send(mail(), ctx());
  const got = await sink.nth(1);
  assert.equal(got.secure, true, 'upgraded with STARTTLS');
  assert.equal(got.user, 'fusion');
  assert.equal(got.from, 'reports@lab.example');
  assert.deepEqual(got.rcpt.sort(), ['a+b@patient.example', 'audit@lab.example', 'doctor@clinic.example']);
  assert.equal(r.messageId, got.mail.messageId);
  assert.match(JSON.stringify(r.raw), /queued as 1/);
  assert.equal(got.mail.subject, 'Your report');
  assert.equal(got.mail.from?.text, '"Crelio Labs" <reports@lab.example>');
  assert.equal(got.mail.replyTo?.text, 'help@lab.example');
  assert.equal(got.mail.headers.get('bcc'), undefined, 'no Bcc header');
  assert.equal(got.mail.text?.trim(), 'Hello there');
  assert.equal(got.mail.html, '<p>Hello <b>there</b></p>');
  assert.equal(got.mail.attachments.length, 1);
  assert.equal(got.mail.attachments[0]!.filename, 'report.pdf');
  assert.equal(got.mail.attachments[0]!.contentType, 'application/pdf');
  assert.deepEqual(got.mail.attachments[0]!.content, PDF);

  // The pool carries many mails over few connections.
  await Promise.all(Array.from({ length: 6 }, (_, i) => p.send(mail({ subject: `n${i}`, attachments: [] }), ctx())));
  assert.equal(sink.received.length, 7);

  sink.failNext(550);
  const perm = await refused(p.send(mail(), ctx()));
  assert.deepEqual([perm.code, perm.retryable], ['smtp_550', false]);
  sink.failNext(451);
  const temp = await refused(p.send(mail(), ctx()));
  assert.deepEqual([temp.code, temp.retryable], ['smtp_451', true]);

  const wrong = smtp.create('bad-auth', { host: '127.0.0.1', port: sink.port, user: 'fusion', password: 'nope-nope', ca: tls.cert }) as SmtpProvider;
  const auth = await refused(wrong.send(mail(), ctx()));
  wrong.close();
  assert.deepEqual([auth.code, auth.retryable], ['smtp_535', false]);
  assert.ok(!auth.message.includes('nope-nope'));
});

test('smtp: recipients refused at RCPT TO while the others took the mail are in the result (4xx retryable, 5xx not); an envelope narrows a send, headers unchanged', async () => {
  const sink = await smtpSink();
  const p = smtp.create('relay', { host: '127.0.0.1', port: sink.port, requireTLS: false }) as SmtpProvider;
  after(async () => {
    p.close();
    await sink.close();
  });
  sink.refuseRcpt('doctor@clinic.example', 450);
  sink.refuseRcpt('audit@lab.example', 550);
  const r = await p.send(mail({ attachments: [] }), ctx());
  assert.deepEqual((await sink.nth(1)).rcpt, ['a+b@patient.example']);
  assert.equal(r.status, 'sent');
  assert.deepEqual(r.refused!.map((x) => [x.address, x.code, x.retryable]), [['doctor@clinic.example', 'smtp_450', true], ['audit@lab.example', 'smtp_550', false]]);
  assert.match(r.refused![0]!.message, /^450 /);

  await p.send(mail({ attachments: [], envelope: ['doctor@clinic.example'] }), ctx());
  const retry = await sink.nth(2);
  assert.deepEqual(retry.rcpt, ['doctor@clinic.example']);
  assert.equal(retry.from, 'reports@lab.example');
  assert.deepEqual([retry.mail.headers.get('to'), retry.mail.headers.get('cc')].map((v) => (v as { text: string }).text), ['a+b@patient.example', 'doctor@clinic.example']);
});

test('smtp through Amazon SES: the message id is the one SES answers "250 Ok <id>" with (it replaces the Message-ID), the one its reports name', async () => {
  const SES_ID = '0100018f2b7c5a1e-6a0e2f4c-2d3b-4c5d-9e8f-0a1b2c3d4e5f-000000';
  const sink = await smtpSink({ reply: () => `Ok ${SES_ID}` });
  const p = smtp.create('ses-smtp', { host: '127.0.0.1', port: sink.port, requireTLS: false }) as SmtpProvider;
  after(async () => {
    p.close();
    await sink.close();
  });
  const r = await p.send(mail({ attachments: [] }), ctx());
  assert.equal(r.messageId, SES_ID);
  const got = await sink.nth(1);
  assert.equal((r.raw as { messageId: string }).messageId, got.mail.messageId, 'the header\'s id stays in the answer');
  const event = readSesEvent({ eventType: 'Delivery', mail: { messageId: SES_ID }, delivery: { recipients: ['a+b@patient.example'] } });
  assert.equal(event.reports[0]!.messageId, r.messageId);
});

test('smtp: STARTTLS required by default, a server without it is refused; a closed port is retryable', async () => {
  const plain = await smtpSink();
  const p = smtp.create('strict', { host: '127.0.0.1', port: plain.port }) as SmtpProvider;
  const e = await refused(p.send(mail(), ctx()));
  p.close();
  assert.equal(e.retryable, false);
  assert.equal(plain.received.length, 0);
  const relaxed = smtp.create('local', { host: '127.0.0.1', port: plain.port, requireTLS: false }) as SmtpProvider;
  await relaxed.send(mail(), ctx());
  relaxed.close();
  assert.equal(plain.received.length, 1);
  await plain.close();
  const gone = smtp.create('gone', { host: '127.0.0.1', port: plain.port, requireTLS: false, timeoutMs: 2000 }) as SmtpProvider;
  const down = await refused(gone.send(mail(), ctx()));
  gone.close();
  assert.equal(down.retryable, true);
});

