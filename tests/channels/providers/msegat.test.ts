import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msegat } from '../../../src/channels/sms/providers/msegat.js';
import { assertNoSecrets, checkErrorAnswers, context, message, sendError, stage } from './stand-in.js';

const { server, dispatcher } = await stage();

const KEY = 'msegat-api-key-secret';
const make = (over: Record<string, unknown> = {}) => msegat.create('msegat-sa', { userName: 'crelio', apiKey: KEY, sender: 'CRELIO', baseUrl: server.base, ...over });
const sa = message({ to: '+966501234567', callingCode: '966', nationalNumber: '501234567', text: 'رمزك 1234' });

test('msegat: the exact sendsms request; success codes 1 and M0000', async () => {
  server.reply({ body: { code: '1', message: 'Success' } }, { body: { code: 'M0000', message: 'Success' } });
  const r = await make().send(sa, context(dispatcher));
  assert.equal(r.messageId, 'msegat:job-42:1');
  assert.equal(r.status, 'sent');
  const req = server.requests.at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/gw/sendsms.php');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(req.json, { userName: 'crelio', numbers: '966501234567', userSender: 'CRELIO', apiKey: KEY, msg: 'رمزك 1234', msgEncoding: 'UTF8' });
  assert.equal((await make().send(sa, context(dispatcher))).status, 'sent');
});

test('msegat: error codes inside a 200 answer, balance retryable, the rest not', async () => {
  server.reply({ body: { code: '1060', message: 'Balance is not enough' } });
  const balance = await sendError(make(), sa, context(dispatcher));
  assert.equal(balance.code, '1060');
  assert.equal(balance.retryable, true);
  server.reply({ body: { code: 'M0002', message: `Invalid login info for apiKey ${KEY}` } });
  const login = await sendError(make(), sa, context(dispatcher));
  assert.equal(login.code, 'M0002');
  assert.equal(login.retryable, false);
  assertNoSecrets(login, [KEY]);
});

test('msegat: 429, 5xx, a refusal with its code, a timeout', async () => {
  await checkErrorAnswers({ server, dispatcher, make, message: sa, secrets: [KEY], refusal: { status: 400, body: { code: '1120', message: 'Mobile numbers is not correct' }, code: '1120' } });
});
