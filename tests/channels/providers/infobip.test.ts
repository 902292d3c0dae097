import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infobip } from '../../../src/channels/sms/providers/infobip.js';
import { checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'infobip-api-key-secret';
const make = (over: Record<string, unknown> = {}) => infobip.create('infobip', { apiKey: KEY, from: 'InfoSMS', baseUrl: server.base, ...over });

test('infobip: the exact text/advanced request; messageId and status group', async () => {
  server.reply({ body: { bulkId: 'b1', messages: [{ to: '919876543210', status: { groupId: 1, groupName: 'PENDING', id: 26, name: 'PENDING_ACCEPTED' }, messageId: '2250be2d4219-3af1-78856-aabe-1362af1edfd2' }] } });
  const r = await make().send(message(), context(dispatcher));
  assert.deepEqual([r.messageId, r.status], ['2250be2d4219-3af1-78856-aabe-1362af1edfd2', 'queued']);
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/sms/2/text/advanced');
  assert.equal(req.headers.authorization, `App ${KEY}`);
  assert.deepEqual(req.json, { messages: [{ destinations: [{ to: '919876543210' }], from: 'InfoSMS', text: 'Your code is 123456 & more' }] });
});

test('infobip: status group REJECTED is a refusal named by the status', async () => {
  server.reply({ body: { messages: [{ to: '1', status: { groupId: 5, groupName: 'REJECTED', id: 51, name: 'MISSING_TO', description: 'Missing destination' }, messageId: 'm' }] } });
  const e = await sendError(make(), message(), context(dispatcher));
  assert.deepEqual([e.code, e.retryable], ['MISSING_TO', false]);
});

test('infobip: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, secrets: [KEY], refusal: { status: 401, body: { requestError: { serviceException: { messageId: 'UNAUTHORIZED', text: 'Invalid login details' } } }, code: 'UNAUTHORIZED' } });
});
