// End-to-end harness: the hub run the way a user runs it, as `fusion` child processes (start, or
// server + worker sharing one store), on a SQLite file or a Redis under a random key prefix. Every
// line a process prints is kept, so a test can grep it (for secrets) and read the bound port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CLI } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { within } from '../helpers/await.js';
import { REDIS_URL, dropPrefix, testPrefix } from '../helpers/redis.js';

export type StoreKind = 'sqlite' | 'redis';

/** A store for one test: its URL for the CLI, and a cleanup (the temp dir, or exactly the prefix's keys). */
export interface TestStore {
  kind: StoreKind;
  url: string;
  dir: string;
  cleanup(): Promise<void>;
}

export async function testStore(kind: StoreKind): Promise<TestStore> {
  const t = tempDir('fusion-e2e-');
  if (kind === 'sqlite') {
    return { kind, url: `sqlite:${join(t.dir, 'fusion.db')}`, dir: t.dir, cleanup: async () => t.remove() };
  }
  const prefix = testPrefix();
  return {
    kind,
    url: `${REDIS_URL}?prefix=${prefix}`,
    dir: t.dir,
    async cleanup() {
      const r = new Redis(REDIS_URL);
      try {
        await dropPrefix(r, prefix);
      } finally {
        r.disconnect();
        t.remove();
      }
    },
  };
}

/** Write a config file into the test's dir; its path. */
export function writeConfig(dir: string, config: unknown, name = 'fusion.config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface HubProcess {
  child: ChildProcess;
  /** The API's base URL (servers only), read from the "fusion listening" line. */
  base: string;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** The JSON log lines printed so far (stdout). */
  lines(): Record<string, any>[];
  /** Resolves with the first log line matching `pred`, now or when it is printed (bounded). */
  line(pred: (l: Record<string, any>) => boolean, what: string, ms?: number): Promise<Record<string, any>>;
  /** SIGTERM, then the exit code (SIGKILL after a bound). */
  stop(): Promise<number | null>;
}

/**
 * `fusion <command> ...args`, resolved once it is up: a server when it logs "fusion listening" (the
 * bound port read from it, so `--port 0` works), a worker when it logs "worker running".
 */
export async function spawnHub(command: 'start' | 'server' | 'worker', args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<HubProcess> {
  const child = spawn(process.execPath, [CLI, command, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, FUSION_API_KEYS: '', FUSION_API_KEYS_FILE: '', FUSION_CONFIG: '', FUSION_STORE: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const ready = command === 'worker' ? /"msg":"worker running"/ : /"msg":"fusion listening"/;
  const up = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (ready.test(out)) resolve(out);
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (c) => reject(new Error(`fusion ${command} exited (${c}) before it was up:\n${out}${err}`)));
  });
  let printed: string;
  try {
    printed = await within(up, 30_000, `fusion ${command} is up`);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  let base = '';
  if (command !== 'worker') {
    const line = printed.split('\n').find((l) => l.includes('"msg":"fusion listening"'))!;
    base = (JSON.parse(line) as { url: string }).url;
  }
  const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l) as Record<string, any>;
    } catch {
      return {}; // a line still being written
    }
  });
  const line = (pred: (l: Record<string, any>) => boolean, what: string, ms = 15_000) => {
    const found = lines().find(pred);
    if (found) return Promise.resolve(found);
    return within(new Promise<Record<string, any>>((resolve) => {
      const onData = () => {
        const l = lines().find(pred);
        if (l) {
          child.stdout!.off('data', onData);
          resolve(l);
        }
      };
      // Registered after the collector above, so `out` already holds the chunk.
      child.stdout!.on('data', onData);
    }), ms, `fusion ${command} prints ${what}`);
  };
  return {
    child,
    base,
    lines,
    line,
    output: () => out + err,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      try {
        return await within(exit, 15_000, `fusion ${command} exits on SIGTERM`);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
    },
  };
}

/** JSON over HTTP to a hub. */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** The job once it has ended, waited for by the API's own long poll (`?wait=`), bounded. */
export async function settled(base: string, id: string, ms = 20_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await call(base, 'GET', `/v1/jobs/${encodeURIComponent(id)}?wait=5`);
    if (r.status !== 200) throw new Error(`GET /v1/jobs/${id}: ${r.status} ${r.text}`);
    if (['completed', 'failed', 'cancelled'].includes(r.json.state)) return r.json;
    if (Date.now() > end) throw new Error(`job ${id} did not settle within ${ms} ms: ${r.text}`);
  }
}

/**
 * Twilio's documented request signature, written here from Twilio's docs (not our adapter's code):
 * the full URL, then each POST field's name and value in name order, HMAC-SHA1 keyed with the
 * auth token, base64.
 */
export function twilioSignature(authToken: string, url: string, fields: Record<string, string>): string {
  const data = url + Object.keys(fields).sort().map((k) => k + fields[k]).join('');
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64');
}

/** Stop hubs (in reverse) and clean a store, whatever happened. */
export async function teardown(hubs: (HubProcess | undefined)[], store?: TestStore): Promise<void> {
  for (const h of [...hubs].reverse()) {
    if (!h) continue;
    try {
      await h.stop();
    } catch {
      h.child.kill('SIGKILL');
    }
  }
  await store?.cleanup();
}
