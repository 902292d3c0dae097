// Secrets never reach logs or job views, end to end: the config holds a Twilio auth token as an
// `env:` reference; a send that succeeds and a send answered 500 by a provider that echoes the token
// (and the Basic credential it was sent) back; then the child process's whole output (at debug
// level), /v1/jobs/:id, its logs, the job list and /jobInfo/ are searched for the token.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { standIn } from '../channels/providers/stand-in.js';
import { call, settled, spawnHub, teardown, testStore, writeConfig, type HubProcess } from './hub.js';

const SID = 'AC5ec0000000000000000000000000005e';
const TOKEN = 'e2e-secret-twilio-token-0d9f3c71';
const BASIC = Buffer.from(`${SID}:${TOKEN}`).toString('base64');

describe('e2e: secrets', () => {
  it('a credential from env: appears in no log line, job view, job log or /jobInfo/ answer, even when the provider echoes it', async () => {
    const store = await testStore('sqlite');
    const twilio = await standIn();
    let hub: HubProcess | undefined;
    try {
      const config = writeConfig(store.dir, {
        channels: { sms: { providers: { twilio: { type: 'twilio', accountSid: SID, authToken: 'env:E2E_SECRET_TOKEN', from: '+15005550006', baseUrl: twilio.base } } } },
        outgoing: { allow: ['127.0.0.1/32'] },
      });
      hub = await spawnHub('start', ['--config', config, '--store', store.url, '--port', '0', '--log-level', 'debug', '--consent-file', `${store.dir}/c.jsonl`], {
        env: { E2E_SECRET_TOKEN: TOKEN },
      });
      // A success whose answer echoes the credentials, then a 500 that does the same.
      twilio.reply({ status: 201, body: { sid: 'SMsecret1', status: 'queued', echo: TOKEN, auth: `Basic ${BASIC}` } });
      const ok = await call(hub.base, 'POST', '/queue/', { payload: { task: 1, contact: 2015550123, countryCode: 1, message: 'Hello' }, task_type: 'INFO' });
      assert.equal(ok.status, 200, ok.text);
      const okJob = await settled(hub.base, ok.json.job_id);
      assert.equal(okJob.state, 'completed', JSON.stringify(okJob.error));

      twilio.reply({ status: 500, body: { code: 20500, message: `internal error for token ${TOKEN}`, auth: `Basic ${BASIC}`, token: TOKEN } });
      const bad = await call(hub.base, 'POST', '/v1/jobs', { task: 'sms', payload: { to: '+12015550124', text: 'Hello again' }, maxAttempts: 1 });
      assert.equal(bad.status, 201, bad.text);
      const badJob = await settled(hub.base, bad.json.id);
      assert.equal(badJob.state, 'failed');
      assert.equal(badJob.error.retryable, true, 'a 500 is retryable; only maxAttempts: 1 ended it');
      // The failure is still explained: who answered what.
      assert.match(badJob.error.message, /twilio/);
      assert.match(badJob.error.message, /500/);
      assert.equal(twilio.requests.length, 2, 'both sends reached the provider, with the credential');
      assert.equal(twilio.requests[1]!.headers.authorization, `Basic ${BASIC}`);

      await hub.line((l) => l.job_id === bad.json.id && l.status === 'failed', 'the failed attempt log');
      const seen: Record<string, string> = {};
      for (const id of [ok.json.job_id as string, bad.json.id as string]) {
        seen[`GET /v1/jobs/${id}`] = (await call(hub.base, 'GET', `/v1/jobs/${id}`)).text;
        seen[`GET /v1/jobs/${id}/logs`] = (await call(hub.base, 'GET', `/v1/jobs/${encodeURIComponent(id)}/logs`)).text;
        seen[`POST /jobInfo/ ${id}`] = (await call(hub.base, 'POST', '/jobInfo/', { job_id: id })).text;
      }
      seen['GET /v1/jobs?queue=sms'] = (await call(hub.base, 'GET', '/v1/jobs?queue=sms')).text;
      // Each view answered (a job log may be empty: {"items":[]}), so the scan below reads real answers.
      for (const [where, text] of Object.entries(seen)) assert.ok(text.startsWith('{') && text.length >= 12, `${where} answered something: ${text}`);
      // The views do carry the provider's answer (scrubbed), so the search below searches something.
      assert.match(seen[`POST /jobInfo/ ${ok.json.job_id}`]!, /SMsecret1/);
      assert.match(seen[`GET /v1/jobs/${bad.json.id}`]!, /twilio/);

      const stopped = await hub.stop();
      assert.equal(stopped, 0);
      seen['stdout+stderr'] = hub.output();
      assert.match(seen['stdout+stderr']!, /"status":"failed"/, 'the failed attempt was logged');
      for (const [where, text] of Object.entries(seen)) {
        assert.ok(!text.includes(TOKEN), `the token leaked into ${where}`);
        assert.ok(!text.includes(BASIC), `the Basic credential leaked into ${where}`);
      }
    } finally {
      await teardown([hub], store);
      await twilio.close();
    }
  });
});
