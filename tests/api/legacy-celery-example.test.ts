// The Flask + Celery system's own example works against `fusion start` with one flag:
// --tasks examples/celery-tasks (compiled). Its client sends no key: the server trusts loopback
// through FUSION_TRUSTED_NETWORKS (role send+read: it submits and reads status) while /v1 stays keyed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort } from '../helpers/net.js';

const TASKS = join(process.cwd(), 'dist/examples/celery-tasks.js');
const KEY = 'reader-0123456789abcdef';

test('fusion start --tasks dist/examples/celery-tasks.js runs that system\'s example body to SUCCESS', async () => {
  const t = tempDir('fusion-celery-');
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'start', '--tasks', TASKS, '--port', String(port), '--store', `sqlite:${join(t.dir, 'f.db')}`, '--consent-file', join(t.dir, 'c.jsonl')], {
    env: { ...process.env, FUSION_API_KEYS: `${KEY}:read`, FUSION_API_KEYS_FILE: '', FUSION_TRUSTED_NETWORKS: '127.0.0.0/8', FUSION_TRUSTED_ROLE: 'send+read', FUSION_TASKS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('fusion listening')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', () => reject(new Error(`exited: ${out}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await listening;
    // The README's request, as its curl sends it: no key.
    const body = { task_type: 'data_processing', priority: 'high', parameters: { data: 'test data' }, delay: 0 };
    const r = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 202, await r.clone().text());
    const { task_id, status } = (await r.json()) as { task_id: string; status: string };
    assert.equal(status, 'PENDING');
    assert.equal((await fetch(`${base}/v1/jobs/${task_id}`)).status, 401, '/v1 is not opened by trusted networks when keys exist');
    // Wait for the outcome with the long-poll (a key: /v1), then read it as the Celery client does.
    const waited = await fetch(`${base}/v1/jobs/${task_id}?wait=20`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(((await waited.json()) as { state: string }).state, 'completed');
    const done = (await (await fetch(`${base}/api/tasks/${task_id}`)).json()) as Record<string, unknown>;
    assert.equal(done.status, 'SUCCESS');
    assert.equal(done.result, 'Processed data: test data');
    assert.equal(done.task_type, 'data_processing');

    const f = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task_type: 'file_processing', parameters: { filename: 'your_file.txt' } }) });
    assert.equal(f.status, 202);
    const fid = ((await f.json()) as { task_id: string }).task_id;
    await fetch(`${base}/v1/jobs/${fid}?wait=20`, { headers: { authorization: `Bearer ${KEY}` } });
    const fd = (await (await fetch(`${base}/api/tasks/${fid}`)).json()) as Record<string, unknown>;
    assert.equal(fd.status, 'SUCCESS');
    assert.equal(fd.result, 'Processed file: your_file.txt');

    // A path is refused by the example's handler: FAILURE, not retried.
    const p = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task_type: 'file_processing', parameters: { filename: '../etc/passwd' } }) });
    const pid = ((await p.json()) as { task_id: string }).task_id;
    await fetch(`${base}/v1/jobs/${pid}?wait=20`, { headers: { authorization: `Bearer ${KEY}` } });
    const pd = (await (await fetch(`${base}/api/tasks/${pid}`)).json()) as Record<string, unknown>;
    assert.equal(pd.status, 'FAILURE');
    assert.match(String(pd.error), /not a path/);
    assert.match(out, /"key":"trusted-network"/, 'keyless requests are logged as trusted-network');

    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  } finally {
    child.kill('SIGKILL');
    t.remove();
  }
});
