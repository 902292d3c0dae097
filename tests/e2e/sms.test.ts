// SMS end to end, as a user runs the hub: the original task-1 bodies on POST /queue/, real adapters
// (MSG91 for +91, Twilio for the rest) pointed at loopback stand-ins, the exact requests they receive,
// /jobInfo/ finished with the provider's message id, then signed delivery reports moving the
// delivery status to delivered. SQLite: one `fusion start` process. Redis (random prefix): `fusion
// server` and `fusion worker` as two processes sharing the Redis, the scale-out shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { standIn, type StandIn } from '../channels/providers/stand-in.js';
import { redisSkip } from '../helpers/redis.js';
import { call, settled, spawnHub, teardown, testStore, twilioSignature, writeConfig, type HubProcess, type StoreKind, type TestStore } from './hub.js';

const SID = 'AC00e2e0000000000000000000000000e2';
const TWILIO_TOKEN = 'e2e-twilio-token-7c1d93aa';
const MSG91_KEY = 'e2e-msg91-authkey-4be0f1';
const MSG91_REPORT_TOKEN = 'e2e-msg91-report-token-55';
const ENV = { E2E_TWILIO_TOKEN: TWILIO_TOKEN, E2E_MSG91_KEY: MSG91_KEY, E2E_MSG91_REPORT_TOKEN: MSG91_REPORT_TOKEN };

function smsConfig(twilioBase: string, msg91Base: string) {
  return {
    channels: {
      sms: {
        providers: {
          twilio: { type: 'twilio', accountSid: SID, authToken: 'env:E2E_TWILIO_TOKEN', from: '+15005550006', baseUrl: twilioBase },
          msg91: {
            type: 'msg91', authKey: 'env:E2E_MSG91_KEY', reportToken: 'env:E2E_MSG91_REPORT_TOKEN', countries: ['+91'],
            templateId: 'flow-e2e', otpTemplateId: 'otp-e2e', textVariable: 'message', baseUrl: msg91Base,
          },
        },
        routes: { '+91': ['msg91'], default: ['twilio'] },
      },
    },
    outgoing: { allow: ['127.0.0.1/32'] },
  };
}

/** The hub on a store: one `fusion start` (SQLite), or `fusion server` + `fusion worker` (Redis). */
async function hubOn(store: TestStore, configFile: string): Promise<{ api: HubProcess; all: HubProcess[] }> {
  const common = ['--config', configFile, '--store', store.url, '--consent-file', `${store.dir}/consent.jsonl`];
  if (store.kind === 'sqlite') {
    const api = await spawnHub('start', [...common, '--port', '0'], { env: ENV });
    return { api, all: [api] };
  }
  const worker = await spawnHub('worker', ['--config', configFile, '--store', store.url], { env: ENV });
  const api = await spawnHub('server', [...common, '--port', '0'], { env: ENV });
  return { api, all: [worker, api] };
}

async function smsEndToEnd(kind: StoreKind): Promise<void> {
  const store = await testStore(kind);
  const twilio: StandIn = await standIn();
  const msg91: StandIn = await standIn();
  let hubs: HubProcess[] = [];
  try {
    const { api, all } = await hubOn(store, writeConfig(store.dir, smsConfig(twilio.base, msg91.base)));
    hubs = all;
    msg91.reply({ status: 200, body: { type: 'success', request_id: '3661716b6c45313233343536' } });
    twilio.reply({ status: 201, body: { sid: 'SMe2e00000000000000000000000000001', status: 'queued', to: '+12015550123' } });

    // The original bodies, byte for byte: a +91 OTP and a +1 non-OTP message.
    const otp = await call(api.base, 'POST', '/queue/', {
      payload: { task: 1, contact: 9876543210, countryCode: 91, message: 'Your OTP is 4711', senderId: 'CRELIO' }, task_type: 'OTP',
    });
    assert.equal(otp.status, 200, otp.text);
    assert.equal(otp.json.status, 'queued');
    const us = await call(api.base, 'POST', '/queue/', {
      payload: { task: 1, contact: 2015550123, countryCode: 1, message: 'Your report is ready', senderId: 'CRELIO' }, task_type: 'REPORT',
    });
    assert.equal(us.status, 200, us.text);

    const otpJob = await settled(api.base, otp.json.job_id);
    const usJob = await settled(api.base, us.json.job_id);
    assert.equal(otpJob.state, 'completed', JSON.stringify(otpJob.error));
    assert.equal(usJob.state, 'completed', JSON.stringify(usJob.error));

    // MSG91 got the OTP on its OTP API: template from config, the number as digits, its auth key.
    assert.equal(msg91.requests.length, 1);
    const m = msg91.requests[0]!;
    assert.equal(m.method, 'POST');
    assert.equal(m.path, '/api/v5/otp');
    assert.deepEqual(Object.fromEntries(m.query), { template_id: 'otp-e2e', mobile: '919876543210' });
    assert.equal(m.headers.authkey, MSG91_KEY);
    assert.equal(m.headers['content-type'], 'application/json');
    assert.deepEqual(m.json, {});
    // Twilio got the other one: its Messages API, Basic auth, the payload's sender id as From.
    assert.equal(twilio.requests.length, 1);
    const t = twilio.requests[0]!;
    assert.equal(t.method, 'POST');
    assert.equal(t.path, `/2010-04-01/Accounts/${SID}/Messages.json`);
    assert.equal(t.headers.authorization, `Basic ${Buffer.from(`${SID}:${TWILIO_TOKEN}`).toString('base64')}`);
    assert.equal(t.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(t.form), { To: '+12015550123', From: 'CRELIO', Body: 'Your report is ready' });

    // /jobInfo/ as the original clients read it: finished, the provider's message id in the result.
    const info = async (id: string) => {
      const r = await call(api.base, 'POST', '/jobInfo/', { job_id: id });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const otpInfo = await info(otp.json.job_id);
    assert.equal(otpInfo.status, 'finished');
    assert.equal(otpInfo.task_type, 'OTP');
    assert.equal(otpInfo.priority, 2, 'an OTP runs at high priority');
    assert.equal(otpInfo.result.provider, 'msg91');
    assert.equal(otpInfo.result.messageId, '3661716b6c45313233343536');
    const usInfo = await info(us.json.job_id);
    assert.equal(usInfo.status, 'finished');
    assert.equal(usInfo.result.provider, 'twilio');
    assert.equal(usInfo.result.messageId, 'SMe2e00000000000000000000000000001');
    assert.notEqual(usInfo.delivery_status, 'delivered');

    // Twilio's status callback, signed as Twilio signs it, over the URL it posts to.
    const reportUrl = `${api.base}/v1/providers/sms/twilio/reports`;
    const fields = { AccountSid: SID, MessageSid: 'SMe2e00000000000000000000000000001', MessageStatus: 'delivered', To: '+12015550123', ApiVersion: '2010-04-01' };
    const post = (sig: string) => fetch(reportUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
      body: new URLSearchParams(fields).toString(),
    });
    const forged = await post(twilioSignature('not-the-auth-token', reportUrl, fields));
    assert.equal(forged.status, 401, 'a report signed with another token is refused');
    assert.equal((await info(us.json.job_id)).delivery_status !== 'delivered', true);
    const good = await post(twilioSignature(TWILIO_TOKEN, reportUrl, fields));
    assert.equal(good.status, 200, await good.clone().text());
    assert.deepEqual(await good.json(), { received: 1, matched: 1, updated: 1 });
    assert.equal((await info(us.json.job_id)).delivery_status, 'delivered');
    const view = await call(api.base, 'GET', `/v1/jobs/${us.json.job_id}`);
    assert.equal(view.json.delivery.status, 'delivered');
    assert.equal(view.json.delivery.provider, 'twilio');
    assert.equal(view.json.delivery.messageId, 'SMe2e00000000000000000000000000001');

    // MSG91's report (JSON, unsigned by MSG91; the configured token in the URL is the check).
    const dlr = [{ requestId: '3661716b6c45313233343536', report: [{ status: '1', number: '919876543210', desc: 'DELIVERED' }] }];
    const msgUrl = `${api.base}/v1/providers/sms/msg91/reports`;
    const noToken = await fetch(msgUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(dlr) });
    assert.equal(noToken.status, 401);
    const withToken = await fetch(`${msgUrl}?token=${MSG91_REPORT_TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(dlr) });
    assert.equal(withToken.status, 200, await withToken.clone().text());
    assert.equal((await info(otp.json.job_id)).delivery_status, 'delivered');
    assert.equal((await call(api.base, 'GET', `/v1/jobs/${otp.json.job_id}`)).json.delivery.status, 'delivered');

    // No credential reached either process's output.
    const printed = hubs.map((h) => h.output()).join('\n');
    for (const secret of [TWILIO_TOKEN, MSG91_KEY, MSG91_REPORT_TOKEN]) assert.ok(!printed.includes(secret), `${secret} was printed`);
  } finally {
    await teardown(hubs, store);
    await twilio.close();
    await msg91.close();
  }
}

describe('e2e sms: /queue/ task 1 → the provider → /jobInfo/ → delivery report', () => {
  it('on SQLite, one `fusion start` process', () => smsEndToEnd('sqlite'));
  it('on Redis (random prefix), `fusion server` + `fusion worker`', async (t) => {
    const skip = await redisSkip();
    if (skip) return t.skip(skip);
    await smsEndToEnd('redis');
  });
});
