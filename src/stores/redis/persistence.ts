// How durable an acknowledged job is on a Redis: an add is answered once Redis has it in memory, so
// what survives a crash is what Redis's persistence keeps. `fusion store info` shows it, and a
// process logs it at start, as a warning where a crash or restart of Redis would lose jobs. Read
// from INFO (allowed where CONFIG is not, as on managed Redis) and, where CONFIG GET answers,
// appendfsync and save; on a Cluster, from every master. With `?waitReplicas=` an add is answered
// only once replicas confirm it (replica-wait.ts), which the line says too. Memory is the other way
// Redis can lose jobs: at maxmemory an eviction policy other than noeviction deletes keys, job
// keys among them (or, volatile-*, keys with a TTL); under noeviction adds are refused (store_full)
// while workers finish what they hold (scripts.ts, SCRIPT_FLAGS). describeMemory and memoryWarning say which.
import { Cluster } from 'ioredis';
import type { RedisClient, ReplicaWait } from './connect.js';

export interface RedisPersistence {
  /** host:port of the server. */
  node: string;
  /** An append-only file is kept. */
  aof: boolean;
  /** When the file is flushed to disk ('always', 'everysec', 'no'), or null where CONFIG is refused. */
  appendfsync: string | null;
  /** The snapshot rules ('' for none), or null where CONFIG is refused. */
  save: string | null;
  /** Replicas connected to it: copied asynchronously, so a failover may lose what they lacked. */
  replicas: number;
  /** Its memory limit in bytes (0: none), what it uses, and what it does at the limit (INFO memory; policy '' where refused). */
  maxmemory: number;
  usedMemory: number;
  evictionPolicy: string;
}

/** Each server's persistence (every master of a Cluster). */
export async function readPersistence(client: RedisClient): Promise<RedisPersistence[]> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  return Promise.all(servers.map(async (server) => {
    const info = await server.info('persistence');
    const replication = await server.info('replication').catch(() => '');
    const memory = await server.info('memory').catch(() => '');
    const field = (text: string, name: string) => new RegExp(`^${name}:(.*?)\r?$`, 'm').exec(text)?.[1];
    const config = async (name: string): Promise<string | null> => {
      try {
        const pair = (await server.config('GET', name)) as string[];
        return pair.length === 2 ? pair[1]! : null;
      } catch {
        return null;
      }
    };
    return {
      node: `${server.options.host}:${server.options.port}`,
      aof: /^aof_enabled:1\r?$/m.test(info),
      appendfsync: await config('appendfsync'),
      save: await config('save'),
      replicas: Number(field(replication, 'connected_slaves') ?? 0),
      maxmemory: Number(field(memory, 'maxmemory') ?? 0),
      usedMemory: Number(field(memory, 'used_memory') ?? 0),
      evictionPolicy: field(memory, 'maxmemory_policy') ?? '',
    };
  }));
}

/** What a crash costs on one server, in a line; `wait`: adds wait for replicas (`?waitReplicas=`). */
export function describePersistence(p: RedisPersistence, wait: ReplicaWait | null = null): string {
  return ownPersistence(p) + failoverCost(p, wait);
}

function failoverCost(p: RedisPersistence, wait: ReplicaWait | null): string {
  if (wait && p.replicas < wait.replicas) return `; adds wait for ${wait.replicas} replica(s) (waitReplicas) but it has ${p.replicas}: every add fails with not_replicated`;
  if (wait) return `; an add is answered once ${wait.replicas} replica(s) confirm it (waitReplicas, up to ${wait.timeoutMs} ms), so a failover to one of them keeps it`;
  return p.replicas > 0 ? `; a failover to one of its ${p.replicas} replica(s) may lose what it had not yet passed on (waitReplicas makes adds wait for them)` : '';
}

function ownPersistence(p: RedisPersistence): string {
  if (p.aof) {
    if (p.appendfsync === 'always') return 'append-only file, fsync always: an acknowledged job survives a crash of Redis or of its machine';
    // Redis may put off writing the file while a flush is under way (up to 2 s) and answer meanwhile.
    if (p.appendfsync === 'everysec') return 'append-only file, fsync every second: a crash may lose the last second or two of acknowledged jobs';
    if (p.appendfsync === 'no') return 'append-only file, fsync left to the OS: a crash of the machine may lose the last ~30 s of acknowledged jobs';
    return 'append-only file (its fsync policy could not be read)';
  }
  if (p.save === '') return 'none (no append-only file, no snapshots): a restart of Redis loses every job';
  // A clean shutdown writes a last snapshot where save rules are set; a crash does not.
  const since = p.save === null ? 'snapshots, if any' : `snapshots only (save ${p.save})`;
  return `no append-only file, ${since}: a crash of Redis loses the jobs acknowledged since the last snapshot`;
}

/**
 * A warning for a process starting on this Redis where adds wait for more replicas than a server
 * has (each would fail), or where a crash or restart would lose acknowledged jobs; or null.
 */
export function persistenceWarning(servers: RedisPersistence[], wait: ReplicaWait | null = null): string | null {
  const warnings: string[] = [];
  const short = wait ? servers.filter((p) => p.replicas < wait.replicas) : [];
  if (short.length) warnings.push(`${whereOf(short, servers)}: ${describePersistence(short[0]!, wait)}`);
  const weak = servers.filter((p) => !p.aof);
  if (weak.length) warnings.push(`${whereOf(weak, servers)}: ${describePersistence(weak[0]!, wait)} (for jobs that must not be lost, appendonly yes)`);
  return warnings.length ? warnings.join('; and ') : null;
}

function whereOf(some: RedisPersistence[], servers: RedisPersistence[]): string {
  return some.length === servers.length ? 'Redis' : some.map((p) => p.node).join(', ');
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

/** What Redis does when it runs out of memory, in a line. */
export function describeMemory(p: RedisPersistence): string {
  if (!p.evictionPolicy) return 'unknown (INFO memory was refused)';
  const limit = p.maxmemory > 0 ? `maxmemory ${mb(p.maxmemory)}, ${mb(p.usedMemory)} used` : `no maxmemory, ${mb(p.usedMemory)} used`;
  // Without a limit nothing is evicted yet, but a limit set later (CONFIG SET) starts it.
  const at = p.maxmemory > 0 ? 'at the limit' : 'once a maxmemory is set';
  if (p.evictionPolicy.startsWith('allkeys-')) {
    return `${limit}, maxmemory-policy ${p.evictionPolicy}: ${at} Redis deletes keys, jobs' among them, so acknowledged jobs vanish (set noeviction)`;
  }
  if (p.evictionPolicy.startsWith('volatile-')) {
    return `${limit}, maxmemory-policy ${p.evictionPolicy}: ${at} Redis deletes keys that have a TTL; no job's has one, but rate-limit ` +
      'windows, hand-off lists and channel state kept for a time (suppressions, consent) may go early (set noeviction)';
  }
  if (p.maxmemory === 0) return `${limit}: Redis grows until the machine's memory runs out`;
  return `${limit}, ${p.evictionPolicy}: at the limit adds fail with store_full (HTTP 503) while workers finish the jobs they hold`;
}

/** A warning for a process starting on this Redis where its eviction policy deletes keys; or null. */
export function memoryWarning(servers: RedisPersistence[]): string | null {
  const evicting = servers.filter((p) => p.evictionPolicy && p.evictionPolicy !== 'noeviction');
  return evicting.length ? `${whereOf(evicting, servers)}: ${describeMemory(evicting[0]!)}` : null;
}
