import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http } from '../../../src/channels/sms/providers/http.js';
import { fill, fillJson, placeholders } from '../../../src/channels/sms/providers/template.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'generic-api-key-secret';
const base = (over: Record<string, unknown> = {}) => ({
  baseUrl: server.base,
  url: '{{base_url}}/api/{{vars.account}}/send/{{to}}',
  format: 'json',
  apiKey: KEY,
  sender: 'FUSION',
  vars: { account: 'acc 1' },
  auth: { header: { name: 'x-api-key', value: 'Key {{apiKey}}' } },
  body: { to: '{{to}}', national: '{{to_national}}', cc: '{{calling_code}}', text: '{{text}}', from: '{{sender}}', ref: '{{job_id}}', tpl: '{{template_id}}', flash: 0, tags: ['sms', '{{to_digits}}'] },
  success: { status: ['2xx'], path: 'status', equals: 'success' },
  messageId: 'data.0.id',
  errorCode: 'error.code',
  errorMessage: 'error.message',
  retryableCodes: ['BUSY'],
  ...over,
});
const make = (over: Record<string, unknown> = {}) => http.create('generic', base(over));

test('template: one pass, no expansion of values, placeholders listed', () => {
  assert.equal(fill('a {{x}} b {{ y }}', { x: '{{y}}', y: '2' }), 'a {{y}} b 2');
  assert.equal(fill('{{x}}', { x: 'a&b c' }, encodeURIComponent), 'a%26b%20c');
  assert.deepEqual(fillJson({ a: '{{x}}', b: '{{missing}}', c: [1, '{{missing}}', 'k{{x}}'], d: true }, { x: '"q"' }), { a: '"q"', c: [1, 'k"q"'], d: true });
  assert.deepEqual([...placeholders({ a: ['{{a}}', { b: 'x{{vars.b}}y' }] })], ['a', 'vars.b']);
});

test('http: JSON format, the exact request (URL components encoded, header auth), id by JSON path', async () => {
  server.reply({ body: { status: 'success', data: [{ id: 'gw-77' }] } });
  const r = await make().send(message({ text: 'code {{apiKey}} "1"' }), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['gw-77', 'sent']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/api/acc%201/send/%2B919876543210');
  assert.equal(req.headers['x-api-key'], `Key ${KEY}`);
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(req.json, { to: '+919876543210', national: '9876543210', cc: '91', text: 'code {{apiKey}} "1"', from: 'FUSION', ref: 'job-42', flash: 0, tags: ['sms', '919876543210'] });
});

test('http: form and query formats, query and basic auth', async () => {
  server.reply({ body: { status: 'success', data: [{ id: 'f1' }] } });
  await make({ format: 'form', url: '{{base_url}}/send', body: { to: '{{to_digits}}', msg: '{{text}}' }, auth: { basic: { username: 'u', password: '{{apiKey}}' } } }).send(message(), context(dispatcher));
  let req = server.requests.at(-1)!;
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}`);
  assert.deepEqual(Object.fromEntries(req.form), { to: '919876543210', msg: 'Your code is 123456 & more' });

  server.reply({ body: { status: 'success', data: [{ id: 'q1' }] } });
  await make({ format: 'query', url: '{{base_url}}/send', body: { to: '{{to_digits}}', msg: '{{text}}' }, auth: { query: { name: 'key', value: '{{apiKey}}' } } }).send(message(), context(dispatcher));
  req = server.requests.at(-1)!;
  assert.equal(req.method, 'GET');
  assert.equal(req.body, '');
  assert.deepEqual(Object.fromEntries(req.query), { key: KEY, to: '919876543210', msg: 'Your code is 123456 & more' });
});

test('http: a success path that does not match is a refusal with the provider code; retryable codes honoured', async () => {
  server.reply({ body: { status: 'error', error: { code: 'BAD_NUMBER', message: 'invalid number' } } });
  const bad = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([bad.code, bad.retryable], ['BAD_NUMBER', false]);
  assert.match(bad.message, /invalid number/);
  server.reply({ body: { status: 'error', error: { code: 'BUSY', message: 'try later' } } });
  const busy = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([busy.code, busy.retryable], ['BUSY', true]);
});

test('http: configured retryable statuses replace the default', async () => {
  server.reply({ status: 503, body: {} });
  const e = await sendError(make({ retryableStatuses: [429] }), message(), context(dispatcher));
  assert.deepEqual([e.status, e.retryable], [503, false]);
});

test('http: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [KEY], refusal: { status: 422, body: { error: { code: 'INVALID_TO', message: `bad number for key ${KEY}` } }, code: 'INVALID_TO' } });
});

test('http: config mistakes fail at create', () => {
  assert.throws(() => make({ body: { to: '{{phone}}' } }), /unknown placeholder\(s\) \{\{phone\}\}/);
  assert.throws(() => make({ body: { to: '{{vars.nope}}' } }), /\{\{vars\.nope\}\}/);
  assert.throws(() => http.create('x', { preset: 'nosuch' }), /unknown preset "nosuch"/);
  assert.throws(() => http.create('x', { preset: 'fast2sms' }), /"apiKey" is required/);
  assert.throws(() => make({ format: 'form', body: ['a'] }), /must be an object of fields/);
});
