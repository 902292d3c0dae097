// Redis for tests: one gate (is a Redis reachable?), a random key prefix per store, and cleanup of
// exactly the keys under that prefix. Never FLUSHALL/FLUSHDB: the Redis may be shared.
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, connect as connectTcp } from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, Cluster } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { freePort } from './net.js';
import { until } from './await.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let gate: Promise<string | false> | null = null;

/**
 * false when Redis answers; otherwise the reason to skip. With CI=true a missing Redis throws,
 * so a CI run cannot pass by skipping.
 */
export function redisSkip(): Promise<string | false> {
  gate ??= (async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      return false;
    } catch (err) {
      const why = `Redis is not reachable at ${REDIS_URL} (${(err as Error).message}).`;
      if (process.env.CI === 'true') throw new Error(`${why} CI=true requires Redis for the Redis suites.`);
      console.error(
        `\n${'!'.repeat(78)}\n!! SKIPPING REDIS SUITES: ${why}\n!! Start one with:  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n` +
          `!! or point REDIS_URL at one (only keys under a random test prefix are touched).\n${'!'.repeat(78)}\n`,
      );
      return `Redis not reachable at ${REDIS_URL}`;
    } finally {
      r.disconnect();
    }
  })();
  return gate;
}

export function testPrefix(): string {
  return `fusion-test-${randomBytes(5).toString('hex')}`;
}

/** Delete every key of a prefix (its queue slots `{p:...}` and its global slot `{p}`), on every master. */
export async function dropPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  let n = 0;
  for (const node of nodes) {
    for (const match of [`{${prefix}:*`, `{${prefix}}*`, `${prefix}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        for (const k of keys) n += await client.unlink(k);
      } while (cursor !== '0');
    }
  }
  return n;
}

/** A store on its own prefix. */
export function openTestStore(url = REDIS_URL, prefix = testPrefix()): RedisStore {
  return new RedisStore(parseRedisUrl(url), { prefix });
}

/** Stores a test file opens, each on its prefix, and the cleanup that closes them and removes those prefixes' keys. */
export class PrefixedStores {
  private readonly prefixes = new Set<string>();
  private readonly stores: RedisStore[] = [];

  /** A store on `prefix` (a fresh one unless given), made by `make` (openTestStore unless given). */
  open(prefix = testPrefix(), make: (prefix: string) => RedisStore = (p) => openTestStore(undefined, p)): RedisStore {
    this.prefixes.add(prefix);
    const store = make(prefix);
    this.stores.push(store);
    return store;
  }

  async cleanup(admin: Redis | Cluster): Promise<void> {
    await Promise.all(this.stores.map((s) => s.close()));
    for (const p of this.prefixes) await dropPrefix(admin, p);
  }
}

/** Count the jobs a store hands to its workers by idle hand-off (a pass-through wrapper of the handoff capability). */
export function countHandoffs(store: RedisStore): { jobs: number } {
  const seen = { jobs: 0 };
  const handoff = store.handoffJobs.bind(store);
  store.handoffJobs = ({ workerId, listener }) => handoff({ workerId, listener: (jobs) => {
    seen.jobs += jobs.length;
    listener(jobs);
  } });
  return seen;
}

/**
 * Make a prefix look as a version before the job hash format mark left it: something in it (its id
 * index holds a field no reader enumerates) and no mark. A store of this version then writes full
 * job hashes there until `fusion store upgrade`; on an empty prefix it would mark it lean.
 */
export async function seedUnmarked(client: Redis | Cluster, prefix: string): Promise<void> {
  await client.hset(`{${prefix}}:ids`, 'seed-of-an-earlier-version', '1');
}

/**
 * A store on a fresh prefix, and a cleanup that removes its keys and closes it. `unmarked`: the
 * prefix seeded as an earlier version's (seedUnmarked), so adds write full job hashes; else empty,
 * so they write lean ones.
 */
export async function redisHarness(url = REDIS_URL, opts: RedisStoreOptions = {}, { unmarked = false } = {}): Promise<{ store: RedisStore; url: string; opening: { prefix: string }; cleanup(): Promise<void> }> {
  const store = new RedisStore(parseRedisUrl(url), { ...opts, prefix: testPrefix() });
  if (unmarked) await seedUnmarked(store.client, store.prefix);
  return {
    store,
    url,
    opening: { prefix: store.prefix },
    async cleanup() {
      await dropPrefix(store.client, store.prefix);
      await store.close();
    },
  };
}

export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

/** A redis-server of the test's own on a spare loopback port (never the shared one). */
export class OwnRedis {
  proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'fusion-redis-'));
  constructor(readonly port: number, private extra: string[] = []) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, ...this.extra], { stdio: 'ignore' });
    await waitForPing(this.port);
  }
  /** Hard stop (SIGKILL): what a crash or an OOM kill looks like to clients. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A master with one replica and one Sentinel watching them (quorum 1, the master taken for down
 * after 1 s of silence), all redis-servers of the test's own. `failover` kills the master and waits
 * for the promotion; `restartAsReplica` brings the killed one back, empty, as the new one's replica.
 */
export class OwnSentinelGroup {
  readonly name = 'fusion-test';
  servers: OwnRedis[] = [];
  sentinel: OwnRedis | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'fusion-sentinel-'));

  async start(): Promise<void> {
    this.servers = [new OwnRedis(await freePort()), new OwnRedis(await freePort())];
    await Promise.all(this.servers.map((s) => s.start()));
    const onReplica = new Redis(this.servers[1]!.url);
    try {
      await onReplica.call('REPLICAOF', '127.0.0.1', String(this.servers[0]!.port));
      await untilReached(async () => /^master_link_status:up\r?$/m.test(await onReplica.info('replication')), 'the replica synced');
    } finally {
      onReplica.disconnect();
    }
    const port = await freePort();
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${this.dir}`,
      `sentinel monitor ${this.name} 127.0.0.1 ${this.servers[0]!.port} 1`,
      `sentinel down-after-milliseconds ${this.name} 1000`,
      `sentinel failover-timeout ${this.name} 5000`,
    ].join('\n') + '\n');
    this.sentinel = new OwnRedis(port, []);
    this.sentinel.proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    await waitForPing(port);
    // The Sentinel has found the replica (else it has no one to promote).
    await untilReached(async () => (await this.sentinelCall('SENTINEL', 'REPLICAS', this.name) as unknown[]).length === 1, 'the sentinel found the replica');
  }

  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.sentinel!.port}/${this.name}`;
  }

  /** The server the Sentinel names master now. */
  async master(): Promise<OwnRedis> {
    const [, port] = (await this.sentinelCall('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    return this.servers.find((s) => s.port === Number(port))!;
  }

  /** Kill the master (SIGKILL) and wait until the Sentinel has promoted the replica; the killed one. */
  async failover(): Promise<OwnRedis> {
    const old = await this.master();
    await old.kill();
    await untilReached(async () => (await this.master()) !== old, 'the sentinel promoted the replica', 30_000);
    return old;
  }

  /**
   * Start a killed master again (empty) as a replica of the promoted one, and wait until the group
   * is in sync: the server the Sentinel names master has the other as a replica whose link is up.
   * The Sentinel would make it a replica too, on its own schedule (seconds to tens of seconds). Until
   * it has synced it may not be promoted (replica-priority 0): on a loaded machine the Sentinel has
   * failed over again meanwhile (a master that missed its pings for 1 s) to this replica while it
   * was still empty, and the group lost what only the master held (a Sentinel hazard of a group of
   * one replica, not the store's). A failover after the sync, back to this one, counts as in sync.
   */
  async restartAsReplica(old: OwnRedis): Promise<void> {
    await old.start();
    const clients = new Map(this.servers.map((s) => [s, new Redis(s.url)] as const));
    for (const c of clients.values()) c.on('error', () => {});
    const replication = (s: OwnRedis) => clients.get(s)!.info('replication').catch((err: Error) => err.message);
    try {
      await clients.get(old)!.call('CONFIG', 'SET', 'replica-priority', '0');
      await clients.get(old)!.call('REPLICAOF', '127.0.0.1', String((await this.master()).port));
      await until(async () => /master_link_status:up\b/.test(await replication(old)), 30_000, 'the old master synced as a replica', 50);
      await clients.get(old)!.call('CONFIG', 'SET', 'replica-priority', '100');
      let seen = '';
      await until(async () => {
        const master = await this.master().catch(() => null);
        const replica = this.servers.find((s) => s !== master);
        if (!master || !replica) return false;
        seen = (await replication(replica)).replace(/\r?\n/g, ' ');
        return new RegExp(`master_port:${master.port}\\b`).test(seen) && /master_link_status:up\b/.test(seen);
      }, 30_000, () => `the group in sync (the Sentinel's master's replica linked): the replica says ${seen}`, 50);
    } finally {
      for (const c of clients.values()) c.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.sentinel?.stop();
    await Promise.all(this.servers.map((s) => s.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async sentinelCall(...args: string[]): Promise<unknown> {
    const client = new Redis({ port: this.sentinel!.port, host: '127.0.0.1' });
    try {
      return await client.call(args[0]!, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  }
}

/** Until `check` holds; a check that throws (a server still starting, a failover under way) counts as no. */
function untilReached(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  return until(() => check().catch(() => false), ms, what, 50);
}

/**
 * Watch the commands Redis runs (MONITOR) on a raw connection of its own: ioredis's monitor() errs
 * ("Command queue state error") and can hang a test when monitor lines arrive around its switch into
 * or out of monitoring, which a busy shared Redis makes likely. Resolves once MONITOR is on;
 * `onCommand(args, source)` gets each command's arguments (unescaped) and its source ('lua' for a
 * script's commands, else the client's address).
 */
export async function watchCommands(onCommand: (args: string[], source: string) => void, url = REDIS_URL): Promise<{ stop(): void }> {
  const { hostname, port, password, username } = new URL(url);
  const socket = connectTcp({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
  socket.setEncoding('utf8');
  const auth = password ? `AUTH ${username ? `${decodeURIComponent(username)} ` : ''}${decodeURIComponent(password)}\r\n` : '';
  socket.write(`${auth}MONITOR\r\n`);
  let buffered = '';
  let oks = auth ? 2 : 1;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('MONITOR: no +OK within 5 s')), 5000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('MONITOR: connection closed')));
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\r\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 2);
          if (line.startsWith('-')) fail(new Error(`MONITOR: ${line.slice(1)}`));
          else if (oks > 0 && line === '+OK') {
            if (--oks === 0) {
              clearTimeout(timer);
              resolve();
            }
          } else {
            // +<time> [<db> <source>] "arg" "arg" ...; only \" and \\ are unescaped (enough for the
            // keys and names the tests match; Redis writes other bytes as \xNN).
            const source = /^\+\S+ \[\d+ (\S+)\]/.exec(line)?.[1] ?? '';
            const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(["\\])/g, '$1'));
            onCommand(args, source);
          }
        }
      });
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.on('error', () => {});
  return { stop: () => socket.destroy() };
}

export async function waitForPing(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`redis on port ${port} did not come up`);
      await new Promise((res) => setTimeout(res, 50));
    } finally {
      r.disconnect();
    }
  }
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * `n` loopback ports for an OwnCluster, each free together with its cluster bus port (port + 10000),
 * from 20000-29999 so the bus port stays in range (an ephemeral port + 10000 may not).
 */
export async function clusterPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = randomInt(20_000, 30_000);
    if (!ports.includes(p) && (await portFree(p)) && (await portFree(p + 10_000))) ports.push(p);
  }
  return ports;
}

/** A Redis Cluster of the test's own on loopback ports: 3 masters, and `replicas` replicas of each (ports: 3 x (1 + replicas)). */
export class OwnCluster {
  readonly nodes: OwnRedis[];
  constructor(readonly ports: number[], private readonly replicas = 0) {
    this.nodes = ports.map((p) => new OwnRedis(p, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${p}.conf`, '--cluster-node-timeout', '5000']));
  }
  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(this.replicas), '--cluster-yes'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stderr || r.stdout}`);
    const end = Date.now() + 20_000;
    for (const p of this.ports) {
      for (;;) {
        const info = spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > end) throw new Error(`cluster node ${p} never reached cluster_state:ok`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
