import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { sns } from '../../../src/channels/sms/providers/sns.js';
import { checkErrorAnswers, context, message, sendError, stage, type Recorded } from './stand-in.js';

const { server, dispatcher } = await stage();

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const make = (over: Record<string, unknown> = {}) => sns.create('sns', { region: 'ap-south-1', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, baseUrl: server.base, ...over });
const XML = { 'content-type': 'text/xml' };
const published = (id: string) =>
  `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>`;
const error = (type: string, code: string, msg: string) =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${msg}</Message></Error><RequestId>9f3e6c1a-0000</RequestId></ErrorResponse>`;

test('sns: an OTP is a signed Query-API Publish, Transactional, with the sender id; MessageId read', async () => {
  server.reply({ headers: XML, body: published('567910cd-659e-55d4-8ccb-5aaf14679dc0') });
  const r = await make().send(message({ otp: true, senderId: 'CRELIO', templateId: '1107160000000012345' }), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['567910cd-659e-55d4-8ccb-5aaf14679dc0', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/');
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.match(String(req.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/ap-south-1\/sns\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
  const f = Object.fromEntries(req.form);
  assert.equal(f.Action, 'Publish');
  assert.equal(f.Version, '2010-03-31');
  assert.equal(f.PhoneNumber, '+919876543210');
  assert.equal(f.Message, 'Your code is 123456 & more');
  const attrs: Record<string, string> = {};
  for (let i = 1; f[`MessageAttributes.entry.${i}.Name`]; i++) {
    assert.equal(f[`MessageAttributes.entry.${i}.Value.DataType`], 'String');
    attrs[f[`MessageAttributes.entry.${i}.Name`]!] = f[`MessageAttributes.entry.${i}.Value.StringValue`]!;
  }
  assert.deepEqual(attrs, { 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.SNS.SMS.SenderID': 'CRELIO', 'AWS.MM.SMS.TemplateId': '1107160000000012345' });
  assert.ok(!req.body.includes(SECRET), 'the secret key never travels');
});

/** AWS's own recomputation of a SigV4 signature (as documented) from the request as received. */
function sigV4(req: Recorded, region: string, service: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const signed = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1]!.split(';');
  const date = String(req.headers['x-amz-date']);
  const query = [...req.query.entries()].map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [req.method, req.path, query, signed.map((h) => `${h}:${String(req.headers[h]).trim()}\n`).join(''), signed.join(';'), createHash('sha256').update(req.body).digest('hex')].join('\n');
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  let key: Buffer = createHmac('sha256', `AWS4${SECRET}`).update(date.slice(0, 8)).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n')).digest('hex');
}

test('sns: the SigV4 signature verifies against the request as received (+ in PhoneNumber, sender id, DLT ids, reserved characters in the text)', async () => {
  server.reply({ headers: XML, body: published('m-sig') });
  await make({ entityId: '1101000000000001' }).send(message({ otp: true, senderId: 'CRELIO', templateId: '1107160000000012345', text: 'Code 1 2*3~(x)!' }), context(dispatcher));
  const req = server.requests.at(-1)!;
  assert.equal(req.form.get('PhoneNumber'), '+919876543210');
  assert.equal(/Signature=([0-9a-f]+)/.exec(String(req.headers.authorization))![1], sigV4(req, 'ap-south-1', 'sns'));
});

test('sns: a plain SMS without sender carries no attributes unless configured', async () => {
  server.reply({ headers: XML, body: published('m2') });
  await make().send(message(), context(dispatcher));
  assert.ok(![...server.requests.at(-1)!.form.keys()].some((k) => k.startsWith('MessageAttributes')));
  server.reply({ headers: XML, body: published('m3') });
  await make({ smsType: 'Promotional', senderId: 'FUSION' }).send(message(), context(dispatcher));
  const body = server.requests.at(-1)!.body;
  assert.match(body, /StringValue=Promotional/);
  assert.match(body, /StringValue=FUSION/);
});

test('sns: Throttling (HTTP 400) is retryable by its code', async () => {
  server.reply({ status: 400, headers: XML, body: error('Sender', 'Throttling', 'Rate exceeded') });
  const t = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([t.code, t.retryable, t.status], ['Throttling', true, 400]);
});

test('sns: 429 + Retry-After, 5xx, InvalidParameter, a timeout', async () => {
  await checkErrorAnswers({
    server,
    dispatcher,
    make,
    secrets: [SECRET],
    headers: XML,
    throttledBody: error('Sender', 'Throttling', 'Rate exceeded'),
    faultBody: (secrets) => error('Receiver', 'InternalError', `internal ${secrets.join(' ')}`),
    refusal: { status: 400, body: error('Sender', 'InvalidParameter', 'Invalid parameter: PhoneNumber Reason: +91 is not valid'), code: 'InvalidParameter' },
  });
});
