// `fusion start` as a user runs it: one process, SQLite file created, health answered, clean exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { resolveSpec } from '../../src/core/queue.js';
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

  it('start on a port in use: exits 1 naming the address, before any waiting job is claimed', async () => {
    const t = tempDir();
    const db = join(t.dir, 'fusion.db');
    const store = new SqliteStore(db);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const now = Date.now();
      await store.addJobs({ jobs: Array.from({ length: 5 }, (_, i) => resolveSpec({ id: `sms-${i}`, task: 'sms', payload: { to: '+919876543210', text: 'Your OTP is 4711' } }, now)), now });
      const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${db}`, '--port', String(port)], {
        env: { ...process.env, FUSION_API_KEYS: '', FUSION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 1);
      assert.match(err, new RegExp(`address already in use 127\\.0\\.0\\.1:${port}`));
      // A start that fails must not have sent messages it then leaves to their leases (sent again later, or failed as stalls).
      assert.ok(!out.includes('Execution Started'), `no job ran:\n${out}`);
      for (let i = 0; i < 5; i++) {
        const job = (await store.getJob({ id: `sms-${i}` }))!;
        assert.equal(job.state, 'queued', `sms-${i} is still waiting, not left active`);
        assert.equal(job.attempts, 0);
      }
    } finally {
      taken.close();
      await store.close();
      t.remove();
    }
  });

  it('start with a port out of range: a message naming --port, nothing opened', async () => {
    const t = tempDir();
    const db = join(t.dir, 'fusion.db');
    try {
      const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${db}`, '--port', '99999'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 1);
      assert.match(err, /--port must be at most 65535, got "99999"/);
      assert.ok(!existsSync(db), 'the store was not opened');
    } finally {
      t.remove();
    }
  });

  it('start on an SQLite path it cannot open: exit 1 naming the file, for a parent that is a file and for a path that is a directory', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'not-a-dir'), '');
      mkdirSync(join(t.dir, 'a-dir'));
      for (const file of [join(t.dir, 'not-a-dir', 'fusion.db'), join(t.dir, 'a-dir')]) {
        const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${file}`, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr!.on('data', (d) => (err += d));
        const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        assert.equal(code, 1, err);
        assert.ok(err.startsWith(`fusion: could not open the SQLite store at ${file} `), err);
      }
    } finally {
      t.remove();
    }
  });

  it('refuses a lease too short to outlive its heartbeats, or past what a store keeps, and a slot count past the library\'s, before any job is claimed', async () => {
    const t = tempDir();
    const db = join(t.dir, 'fusion.db');
    const store = new SqliteStore(db);
    try {
      const now = Date.now();
      await store.addJobs({ jobs: Array.from({ length: 10 }, (_, i) => resolveSpec({ id: `sms-${i}`, task: 'sms', payload: { to: '+919876543210', text: 'Your OTP is 4711' } }, now)), now });
      // The library's own rules (core/worker-options.ts): 1e300 ms was taken as a lease no dead worker's job outlived.
      const cases: [string[], RegExp][] = [
        ...['0', '5', '1e300'].map((lease): [string[], RegExp] => [['--lease-ms', lease], new RegExp(`--lease-ms must be a whole number from 1000 to \\d+: .*got "${lease}"`)]),
        [['--concurrency', '1e9'], /--concurrency must be a whole number from 1 to 100000; got "1e9"/],
        [['--queues', 'sms=1000000'], /--queues: the slots of "sms" must be a whole number from 1 to 100000; got 1000000/],
      ];
      for (const [args, message] of cases) {
        const child = spawn(process.execPath, [CLI, 'worker', '--store', `sqlite:${db}`, ...args, '--burst'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr!.on('data', (d) => (err += d));
        const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        assert.equal(code, 1, `${args.join(' ')} was accepted`);
        assert.match(err, message);
      }
      for (let i = 0; i < 10; i++) {
        const job = (await store.getJob({ id: `sms-${i}` }))!;
        assert.equal(job.state, 'queued');
        assert.equal(job.stalls, 0, 'no job ran twice through a lapsed lease');
      }
    } finally {
      await store.close();
      t.remove();
    }
  });

  it('a log level pino does not know: a message naming the flag or the variable', async () => {
    for (const [args, env] of [[['--log-level', 'LOUD'], {}], [[], { FUSION_LOG_LEVEL: 'verbose' }]] as const) {
      const child = spawn(process.execPath, [CLI, 'worker', '--store', 'sqlite::memory:', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 1);
      assert.match(err, /^fusion: --log-level \(or FUSION_LOG_LEVEL\) must be one of trace, debug, info, warn, error, fatal, silent, got "(LOUD|verbose)"\n$/);
    }
    // An empty variable (a compose file's `FUSION_LOG_LEVEL=`) is no level: the default applies.
    const child = spawn(process.execPath, [CLI, 'worker', '--store', 'sqlite::memory:'], { env: { ...process.env, FUSION_LOG_LEVEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const running = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => ((out += d), out.includes('"msg":"worker running"') && resolve()));
      child.stderr!.on('data', (d) => (out += d));
      child.on('exit', () => reject(new Error(`exited: ${out}`)));
    });
    await running;
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });

  it('empty FUSION_PORT, FUSION_HOST and FUSION_STORE (NAME= in a compose file) are unset: 127.0.0.1:8002 and ./data/fusion.db, not a random port', async () => {
    const t = tempDir();
    const child = spawn(process.execPath, [CLI, 'server'], {
      cwd: t.dir, env: { ...process.env, FUSION_PORT: '', FUSION_HOST: '', FUSION_STORE: '', FUSION_API_KEYS: '', FUSION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      // The default port may be taken by another hub on this machine: then the start fails on it, which proves the same.
      const outcome = await new Promise<string>((resolve) => {
        child.stdout!.on('data', (d) => ((out += d), out.includes('fusion listening') && resolve('listening')));
        child.stderr!.on('data', (d) => (out += d));
        child.on('exit', () => resolve('exited'));
      });
      if (outcome === 'listening') {
        const line = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"fusion listening"'))!) as { url: string; store: string };
        assert.equal(line.url, 'http://127.0.0.1:8002');
        assert.equal(line.store, 'sqlite:./data/fusion.db');
        assert.ok(existsSync(join(t.dir, 'data', 'fusion.db')));
        child.kill('SIGTERM');
        assert.equal(await exit, 0);
      } else {
        assert.match(out, /address already in use 127\.0\.0\.1:8002/);
      }
    } finally {
      child.kill('SIGKILL');
      t.remove();
    }
  });
});
