// `fusion server` wiring: keys from the environment, refusal of a public bind without keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort } from '../helpers/net.js';



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
});
