import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sinch } from '../../../src/channels/sms/providers/sinch.js';
import { checkErrorAnswers, context, message, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const TOKEN = 'sinch-api-token-secret';
const make = (over: Record<string, unknown> = {}) => sinch.create('sinch', { servicePlanId: 'plan123', apiToken: TOKEN, from: '12345', baseUrl: server.base, ...over });

test('sinch: the exact batches request; id from the 201 answer', async () => {
  server.reply({ status: 201, body: { id: '01FC66621XXXXX119Z8PMV1QPQ', to: ['+919876543210'], from: '12345', canceled: false, body: 'x', type: 'mt_text' } });
  const r = await make().send(message(), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['01FC66621XXXXX119Z8PMV1QPQ', 'queued']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/xms/v1/plan123/batches');
  assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
  assert.deepEqual(req.json, { from: '12345', to: ['+919876543210'], body: 'Your code is 123456 & more' });
});

test('sinch: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [TOKEN], refusal: { status: 400, body: { code: 'syntax_invalid_parameter_format', text: 'Invalid phone number' }, code: 'syntax_invalid_parameter_format' } });
});
