// `fusion server` wiring: keys from the environment, refusal of a public bind without keys, the
// public base URL signed callbacks are checked against behind a proxy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort } from '../helpers/net.js';
import { twilioLikeSignature } from '../channels/sms-fixtures.js';
import { dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';



function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => out.includes('fusion listening') && resolve());
    child.on('exit', () => reject(new Error(`exited: ${out}`)));
  });
  listening.catch(() => undefined); // awaited only by the tests that expect it to listen
  return { child, exit, listening, output: () => out };
}

describe('fusion server: API keys and binding', () => {
  it('refuses a public bind without keys, before opening anything', async () => {
    const t = tempDir();
    try {
      const p = run(['server', '--host', '0.0.0.0', '--store', `sqlite:${join(t.dir, 'f.db')}`], { FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '' });
      assert.equal(await p.exit, 1);
      assert.match(p.output(), /refusing to listen on 0\.0\.0\.0 without API keys/);
    } finally {
      t.remove();
    }
  });

  it('with FUSION_API_KEYS: keys and roles are enforced; without keys on loopback: a warning', async () => {
    const t = tempDir();
    const port = await freePort();
    const store = `sqlite:${join(t.dir, 'f.db')}`;
    const p = run(['server', '--port', String(port), '--store', store, '--consent-file', join(t.dir, 'c.jsonl')], {
      FUSION_API_KEYS: 'sender-0123456789abcdef:send', FUSION_API_KEYS_FILE: '',
    });
    try {
      await p.listening;
      const url = `http://127.0.0.1:${port}/v1/jobs`;
      const body = JSON.stringify({ task: 'sms', payload: { contact: '9876543210', countryCode: 91, message: 'hi' } });
      const headers = { 'content-type': 'application/json' };
      assert.equal((await fetch(url, { method: 'POST', headers, body })).status, 401);
      assert.equal((await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer sender-0123456789abcdef' }, body })).status, 201);
      assert.equal((await fetch(url, { headers: { authorization: 'Bearer sender-0123456789abcdef' } })).status, 403);
      assert.ok(!p.output().includes('sender-0123456789abcdef'), 'the key never reaches the logs');
      p.child.kill('SIGTERM');
      assert.equal(await p.exit, 0);

      const open = run(['server', '--port', String(port), '--store', store, '--consent-file', join(t.dir, 'c.jsonl')], { FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '' });
      await open.listening;
      assert.match(open.output(), /no API keys configured/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/v1/queues`)).status, 200);
      open.child.kill('SIGTERM');
      assert.equal(await open.exit, 0);
    } finally {
      p.child.kill('SIGKILL');
      t.remove();
    }
  });

  it('behind a TLS-terminating proxy: FUSION_PUBLIC_URL (or --public-url) is the base Twilio\'s signature is checked against; a bad one stops the start', async () => {
    const t = tempDir();
    const port = await freePort();
    const store = `sqlite:${join(t.dir, 'f.db')}`;
    const TOKEN = 'twilio-auth-token-secret';
    const config = join(t.dir, 'fusion.config.json');
    writeFileSync(config, JSON.stringify({ channels: { sms: { providers: { 'twilio-us': { type: 'twilio', accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'env:FUSION_TEST_TWILIO_TOKEN', from: '+15005550006' } } } } }));
    const env = { FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '', FUSION_TEST_TWILIO_TOKEN: TOKEN };
    const bad = run(['server', '--port', String(port), '--store', store, '--config', config, '--public-url', 'hub.example'], env);
    assert.equal(await bad.exit, 1);
    assert.match(bad.output(), /--public-url \(or FUSION_PUBLIC_URL\): "hub\.example" is not an absolute URL/);
    const p = run(['server', '--port', String(port), '--store', store, '--config', config, '--consent-file', join(t.dir, 'c.jsonl')], { ...env, FUSION_PUBLIC_URL: 'https://hub.example' });
    try {
      await p.listening;
      const path = '/v1/providers/sms/twilio-us/reports';
      const form = { MessageSid: 'SM0123', MessageStatus: 'delivered' };
      const post = (url: string) => fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST', body: new URLSearchParams(form).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioLikeSignature(TOKEN, url, form) },
      });
      const genuine = await post(`https://hub.example${path}`);
      assert.equal(genuine.status, 200, await genuine.text());
      assert.equal((await post(`http://127.0.0.1:${port}${path}`)).status, 401, 'the URL the request arrived at is not the one Twilio called');
      p.child.kill('SIGTERM');
      assert.equal(await p.exit, 0);
    } finally {
      p.child.kill('SIGKILL');
      t.remove();
    }
  });

  it('the "fusion listening" line shows no store password, also one given as a URL parameter', async (t) => {
    const skip = await pgSkip();
    if (skip) return t.skip(skip);
    const schema = testSchema();
    // The test server trusts loopback: the password is never asked for, only printed (or not).
    const secret = 'hunter2-in-the-store-url';
    const p = run(['server', '--port', '0', '--store', schemaUrl(schema, `&password=${secret}`)], { FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '', FUSION_CONFIG: '' });
    try {
      await p.listening;
      const line = p.output().split('\n').find((l) => l.includes('"msg":"fusion listening"'))!;
      assert.match(JSON.parse(line).store, /[?&]password=\*\*\*/, line);
      assert.ok(!p.output().includes(secret), `the password appears in the output:\n${p.output()}`);
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
      await dropSchema(schema);
    }
  });
});
