// `fusion start` as a user runs it: one process, SQLite file created, health answered, clean exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort } from '../helpers/net.js';



describe('fusion CLI', () => {
  it('start: creates the SQLite file, answers /healthz and /readyz on FUSION_PORT, exits 0 on SIGTERM', async () => {
    const t = tempDir();
    const port = await freePort();
    const db = join(t.dir, 'nested', 'fusion.db');
    const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${db}`], {
      env: { ...process.env, FUSION_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('fusion listening')) resolve();
        });
        child.on('exit', () => reject(new Error(`exited early: ${out}`)));
      });
      assert.ok(existsSync(db), 'the data file was created on first start');
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 200);
      child.kill('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      child.kill('SIGKILL');
      t.remove();
    }
  });

  it('rejects a bad option value with a clear message and a non-zero exit', async () => {
    const child = spawn(process.execPath, [CLI, 'worker', '--concurrency', 'many'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(err, /--concurrency must be a non-negative integer, got "many"/);
  });
});
