// `fusion store upgrade` on a Redis prefix an earlier version left: refused (exit 1, naming the
// workers) while a live worker of an earlier version is registered, marked lean with --force or once
// none is, then "already lean"; other stores have nothing to upgrade. `fusion store info` prints the
// format at each step and marks nothing.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { REDIS_URL, dropPrefix, redisSkip, seedUnmarked, testPrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));
const skip = await redisSkip();

/** `fusion store <command>`'s exit code, stdout and stderr. */
async function store(command: 'upgrade' | 'info', url: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'store', command, '--store', url, ...extra]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const upgrade = (url: string, ...extra: string[]) => store('upgrade', url, ...extra);
const formatShown = async (url: string) => (await store('info', url)).stdout.match(/job hash format: (\w+)/)?.[1];

describe('fusion store upgrade (Redis)', { skip }, () => {
  const admin = new Redis(REDIS_URL);
  const prefix = testPrefix();
  after(async () => {
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });

  it('refuses while an older worker lives, marks lean when forced, then has nothing to do', async () => {
    const url = `${REDIS_URL}?prefix=${prefix}`;
    assert.equal(await formatShown(url), 'none');
    assert.equal(await admin.get(`{${prefix}}:format`), null, 'info marked nothing');
    await seedUnmarked(admin, prefix);
    assert.equal(await formatShown(url), 'full');
    const info = { id: 'old-w', host: 'h', pid: 1, queues: ['q'], concurrency: 1, running: [], startedAt: 0, lastSeenAt: 0 };
    await admin.hset(`{${prefix}}:w`, 'old-w', JSON.stringify(info));
    await admin.zadd(`{${prefix}}:we`, Date.now() + 600_000, 'old-w');

    const refused = await upgrade(url);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /live workers of a version before lean hashes: old-w/);
    assert.match(refused.stderr, /not upgraded: .*--force marks it anyway/);
    assert.equal(await admin.get(`{${prefix}}:format`), null);

    const forced = await upgrade(url, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`prefix: ${prefix}\\n`));
    assert.match(forced.stdout, /job hash format: now lean: .*\(forced\)/);
    assert.equal(await admin.get(`{${prefix}}:format`), 'lean');
    assert.equal(await formatShown(url), 'lean');

    const again = await upgrade(url);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /job hash format: already lean/);

    // A mark this version does not know (a later version's) is shown as it is, not as full.
    await admin.set(`{${prefix}}:format`, 'leaner');
    assert.match((await store('info', url)).stdout, /job hash format: leaner \(a mark this version does not know/);
    await admin.set(`{${prefix}}:format`, 'lean');
  });

  it('has nothing to upgrade on another store', async () => {
    const other = await upgrade('sqlite::memory:');
    assert.equal(other.code, 0);
    assert.match(other.stdout, /nothing to upgrade: only the Redis store has a job hash format/);
  });
});
