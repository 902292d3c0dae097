// Opening a Redis store that does not answer: a clear error naming the store, and nothing left
// running (a script that catches the error ends by itself; `fusion start` exits 1 saying which store).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { within } from '../helpers/await.js';

function run(args: string[], opts: { cwd?: string } = {}): { exit: Promise<number | null>; output: () => string; kill: () => void } {
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env: { ...process.env, FUSION_API_KEYS: '', FUSION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { exit: new Promise((r) => child.on('exit', (c) => r(c))), output: () => out, kill: () => child.kill('SIGKILL') };
}

describe('a Redis store that does not answer at open', () => {
  it('Fusion.open rejects with store_unavailable naming the store, and leaves nothing that keeps the process alive', async () => {
    const port = await freePort(); // nothing listens there
    const t = tempDir();
    const script = join(t.dir, 'open.mjs');
    writeFileSync(script, `import { Fusion } from ${JSON.stringify(join(process.cwd(), 'dist/src/index.js'))};
try { await Fusion.open({ store: 'redis://:pw-not-shown@127.0.0.1:${port}/0' }); console.log('opened'); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
`);
    const p = run([script]);
    try {
      // The script ends when its event loop is empty: a client left reconnecting would hold it for ever.
      assert.equal(await within(p.exit, 60_000, `the script ends by itself:\n${p.output()}`), 0);
      const answer = JSON.parse(p.output().trim().split('\n').pop()!) as { code: string; message: string };
      assert.equal(answer.code, 'store_unavailable');
      assert.ok(answer.message.startsWith(`could not reach the Redis store at redis://:***@127.0.0.1:${port}/0: `), answer.message);
      assert.ok(!p.output().includes('pw-not-shown'));
    } finally {
      p.kill();
      t.remove();
    }
  });

  it('fusion start exits 1 saying which store it could not reach', async () => {
    const port = await freePort();
    const p = run([CLI, 'start', '--store', `redis://127.0.0.1:${port}`, '--port', '0']);
    try {
      assert.equal(await within(p.exit, 60_000, 'fusion start exits'), 1);
      assert.match(p.output(), new RegExp(`^fusion: could not reach the Redis store at redis://127\\.0\\.0\\.1:${port}: `, 'm'));
    } finally {
      p.kill();
    }
  });
});
