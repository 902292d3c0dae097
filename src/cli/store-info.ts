// `fusion store info [--store URL]`: which store a URL names and, for PostgreSQL and SQLite, its
// schema's version against the migrations this build carries; for Redis, the prefix's job hash
// format and what a crash of Redis would cost (its persistence); for the shared stores, how far this
// machine's clock is from the server's (which Fusion goes by). Read-only: it never creates,
// migrates or marks.
// `fusion store upgrade` is store-upgrade.ts.
import { existsSync } from 'node:fs';
import { DEFAULT_STORE_URL } from '../stores/index.js';
import { storeUpgrade } from './store-upgrade.js';
import { isRedisUrl, redactStoreUrl } from '../stores/url.js';
import type { SharedClock } from '../core/shared-clock.js';

/** The `clock:` line: this machine's clock against the server's (core/shared-clock.ts). */
async function clockLine(clock: SharedClock): Promise<string> {
  await clock.start();
  if (!clock.synced) return `clock: unknown (${clock.lastError?.message ?? 'no answer'})\n`;
  const ms = clock.offsetMs;
  const apart = ms === 0 ? 'agrees with the server\'s (within the read\'s round trip)' : `is ${Math.abs(ms)} ms ${ms > 0 ? 'behind' : 'ahead of'} the server's`;
  return `clock: this machine's ${apart}; Fusion goes by the server's\n`;
}

/** How a store's schema version stands against this build's latest. */
function versionState(version: number, latest: number, none: string): string {
  return version === 0 ? none
    : version < latest ? `behind: ${latest - version} migration(s) to apply at the next open`
    : version > latest ? 'ahead of this build (a newer Fusion migrated it)'
    : 'up to date';
}

async function sqliteInfo(url: string): Promise<void> {
  const path = url.slice('sqlite:'.length).replace(/^\/\//, '').split('?')[0] || './data/fusion.db';
  const { LATEST_SQLITE_VERSION, schemaVersion } = await import('../stores/sqlite/migrate.js');
  const latest = LATEST_SQLITE_VERSION();
  let version = 0;
  let none = 'not created yet (made at the first open)';
  if (existsSync(path)) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      version = schemaVersion(db);
      const hasJobs = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'`).get();
      if (hasJobs) none = 'made before versions were recorded (brought up to date at the next open)';
    } finally {
      db.close();
    }
  }
  process.stdout.write(`store: ${url}\nkind: sqlite\nfile: ${path}\n` +
    `schema version: ${version} (this build: ${latest}; ${versionState(version, latest, none)})\n`);
}

const FORMAT_STATE = {
  lean: 'lean (new jobs store only the fields not at their default)',
  full: 'full (written by a version before lean hashes: `fusion store upgrade` once every process runs this version)',
  empty: 'none yet (an empty prefix: marked lean at the first write)',
} as const;

/** How long `store info` waits for Redis before saying it could not read the format. */
const REDIS_INFO_WAIT_MS = 3000;

async function redisInfo(url: string): Promise<void> {
  const { RedisStore } = await import('../stores/redis/store.js');
  const { parseRedisUrl } = await import('../stores/redis/connect.js');
  const { describeMemory, describePersistence, readPersistence } = await import('../stores/redis/persistence.js');
  const store = new RedisStore(parseRedisUrl(url));
  process.stdout.write(`store: ${redactStoreUrl(url)}\nkind: redis\nprefix: ${store.prefix}\n` +
    'schema version: none (Redis keys carry no migrations)\n');
  const timers: NodeJS.Timeout[] = [];
  // ioredis retries a call while it reconnects: an unreachable Redis would hold the command for long.
  const bounded = <T>(call: Promise<T>) => Promise.race([
    call,
    new Promise<never>((_, reject) => timers.push(setTimeout(() => reject(new Error(`no answer within ${REDIS_INFO_WAIT_MS} ms`)), REDIS_INFO_WAIT_MS))),
  ]);
  try {
    const format = await bounded(store.storedJobFormat());
    const state = typeof format === 'string' ? FORMAT_STATE[format] : `${format.unknownMark} (a mark this version does not know: written by a later Fusion)`;
    process.stdout.write(`job hash format: ${state}\n`);
    try {
      const servers = await bounded(readPersistence(store.client));
      for (const p of servers) process.stdout.write(`persistence${servers.length > 1 ? ` (${p.node})` : ''}: ${describePersistence(p, store.replicaWait)}\n`);
      for (const p of servers) process.stdout.write(`memory${servers.length > 1 ? ` (${p.node})` : ''}: ${describeMemory(p)}\n`);
    } catch (err) {
      process.stdout.write(`persistence: unknown (${(err as Error).message})\n`);
    }
    process.stdout.write(await clockLine(store.clock));
  } catch (err) {
    process.stderr.write(`fusion: could not read the job hash format: ${redactStoreUrl((err as Error).message)}\n`);
    process.exitCode = 1;
    // Else the close's QUIT waits out the same retries.
    store.client.disconnect();
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await store.close();
  }
}

export async function storeCommand(sub: string | undefined, url: string = DEFAULT_STORE_URL, opts: { force?: boolean } = {}): Promise<void> {
  if (sub === 'upgrade') return storeUpgrade(url, opts.force ?? false);
  if (sub !== 'info') {
    process.stderr.write(`fusion: unknown store command "${sub ?? ''}" (use: fusion store info|upgrade [--store URL])\n`);
    process.exitCode = 2;
    return;
  }
  if (url.startsWith('sqlite:')) return sqliteInfo(url);
  if (isRedisUrl(url)) return redisInfo(url);
  if (!/^postgres(ql)?:\/\//.test(url)) {
    process.stdout.write(`store: ${redactStoreUrl(url)}\nkind: unknown\n`);
    return;
  }
  const { PostgresStore } = await import('../stores/postgres/store.js');
  const { LATEST_VERSION } = await import('../stores/postgres/migrate.js');
  const store = await PostgresStore.open(url, { migrate: false });
  try {
    const version = await store.schemaVersion();
    const latest = LATEST_VERSION();
    const state = versionState(version, latest, 'not created yet (made at the first open)');
    process.stdout.write(`store: ${redactStoreUrl(url)}\nkind: postgres\nschema: ${store.schema}\n` +
      `schema version: ${version} (this build: ${latest}; ${state})\n`);
    process.stdout.write(await clockLine(store.clock));
  } finally {
    await store.close();
  }
}
