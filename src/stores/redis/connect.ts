// Turning a store URL into ioredis clients:
//   redis://[user:pass@]host:port[/db][?prefix=p&socketTimeout=ms&waitReplicas=n&waitTimeout=ms]   rediss://...  (TLS)
//   redis+cluster://[user:pass@]host:port,host:port[?prefix=p&tls=1&socketTimeout=ms&natMap=host:port>host:port,...&waitReplicas=n&waitTimeout=ms]
//   redis+sentinel://[user:pass@]host:port,host:port/master-name[/db][?prefix=p&tls=1&sentinelUsername=u&sentinelPassword=s&socketTimeout=ms&waitReplicas=n&waitTimeout=ms]
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { FusionError } from '../../core/errors.js';
import { redactStoreUrl, socketTimeoutOf } from '../url.js';

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  cluster: boolean;
  prefix: string | null;
  /** How long a connection with calls in the air may stay silent before it is dropped and made again (0: never). */
  socketTimeoutMs: number;
  /** Replicas that must confirm an add before it is answered, and how long to wait for them (null: adds do not wait). */
  replicaWait: ReplicaWait | null;
  create(role: string): RedisClient;
}

export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/** Default `?waitTimeout=`: long enough for a replica's acknowledgement across a busy network, short beside a lease. */
export const DEFAULT_WAIT_TIMEOUT_MS = 2000;

const common = (role: string): RedisOptions => ({
  connectionName: `fusion:${role}`,
  // Auto-pipelining would defer every command by a tick: measured here it cut sequential
  // throughput by a third and gained nothing at 100 in flight, since ioredis already pipelines
  // concurrent commands on one socket.
  enableAutoPipelining: false,
  // Reconnect forever with a capped delay; a worker must outlive any Redis outage.
  retryStrategy: (times: number) => Math.min(50 * times, 1000),
});

export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(redis|rediss|redis\+cluster|redis\+sentinel):\/\/(.*)$/.exec(url);
  if (!m) throw new FusionError('invalid_store', `not a Redis URL: ${redactStoreUrl(url)}`, { url: redactStoreUrl(url) });
  const [, scheme, rest] = m as unknown as [string, string, string];
  const qi = rest.indexOf('?');
  const params = new URLSearchParams(qi >= 0 ? rest.slice(qi + 1) : '');
  const prefix = params.get('prefix');
  const socketTimeoutMs = socketTimeoutOf(params.get('socketTimeout'), url);
  const replicaWait = replicaWaitOf(params, url);
  if (scheme === 'redis' || scheme === 'rediss') {
    const u = new URL(url);
    // ioredis reads a URL's query as its own options: these are Fusion's.
    for (const name of FUSION_PARAMS) u.searchParams.delete(name);
    const clean = u.toString();
    return { cluster: false, prefix, socketTimeoutMs, replicaWait, create: (role) => new Redis(clean, common(role)) };
  }
  const sentinel = scheme === 'redis+sentinel';
  const hostList = hostListOf(qi >= 0 ? rest.slice(0, qi) : rest, sentinel ? 26379 : 6379);
  const tls = params.get('tls') === '1' || params.get('tls') === 'true';
  if (sentinel) {
    // master-name[/db], a trailing slash allowed.
    const [nameText, db = '0', ...more] = (hostList?.path ?? '').replace(/\/$/, '').split('/');
    const name = nameText ? decodeOrNull(nameText) : null;
    if (!hostList || !name || !/^\d{1,5}$/.test(db) || more.length > 0) {
      throw new FusionError('invalid_store', `a sentinel URL needs host:port,host:port/master-name[/db]: ${redactStoreUrl(url)}`, { url: redactStoreUrl(url) });
    }
    const { user, pass, nodes } = hostList;
    const sentinelUsername = params.get('sentinelUsername') ?? undefined;
    const sentinelPassword = params.get('sentinelPassword') ?? undefined;
    return {
      cluster: false,
      prefix,
      socketTimeoutMs,
      replicaWait,
      // failoverDetector: the client also listens to the sentinels' +switch-master and moves at once,
      // rather than when its connection to the old master breaks (which a silent path may never do).
      create: (role) => new Redis({
        ...common(role), sentinels: nodes, name, role: 'master', db: Number(db), username: user || undefined, password: pass || undefined,
        sentinelUsername, sentinelPassword, failoverDetector: true, ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      }),
    };
  }
  if (!hostList) throw new FusionError('invalid_store', `a cluster URL needs host:port,host:port: ${redactStoreUrl(url)}`, { url: redactStoreUrl(url) });
  const { user, pass, nodes } = hostList;
  const natMap = natMapOf(params.get('natMap'), url);
  return {
    cluster: true,
    prefix,
    socketTimeoutMs,
    replicaWait,
    create: (role) => {
      const { enableAutoPipelining, retryStrategy, ...redisOptions } = common(role);
      return new Cluster(nodes, {
        enableAutoPipelining,
        clusterRetryStrategy: retryStrategy,
        ...(natMap ? { natMap } : {}),
        redisOptions: { ...redisOptions, username: user || undefined, password: pass || undefined, ...(tls ? { tls: {} } : {}) },
      });
    },
  };
}

/** Fusion's own query parameters of a redis:// URL (ioredis reads the others as its options). */
const FUSION_PARAMS = ['prefix', 'socketTimeout', 'waitReplicas', 'waitTimeout'];

/** Longest `?waitTimeout=`: past a minute an add had better fail and be retried. */
const MAX_WAIT_TIMEOUT_MS = 60_000;

/**
 * `?waitReplicas=n&waitTimeout=ms`: an add is answered only once n replicas of its server confirm
 * they hold it (Redis's WAIT, replica-wait.ts), so a failover to a replica keeps every acknowledged job.
 */
function replicaWaitOf(params: URLSearchParams, url: string): ReplicaWait | null {
  const replicasText = params.get('waitReplicas');
  const timeoutText = params.get('waitTimeout');
  const invalid = (message: string) => new FusionError('invalid_store', message, { url: redactStoreUrl(url) });
  if (replicasText === null) {
    if (timeoutText !== null) throw invalid('waitTimeout needs waitReplicas (how many replicas an add waits for)');
    return null;
  }
  const replicas = Number(replicasText);
  if (replicasText.trim() === '' || !Number.isInteger(replicas) || replicas < 0 || replicas > 100) {
    throw invalid(`waitReplicas must be a whole number of replicas from 0 to 100: ${replicasText}`);
  }
  const timeoutMs = timeoutText === null ? DEFAULT_WAIT_TIMEOUT_MS : Number(timeoutText);
  if (timeoutText !== null && (timeoutText.trim() === '' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WAIT_TIMEOUT_MS)) {
    throw invalid(`waitTimeout must be a whole number of milliseconds from 1 to ${MAX_WAIT_TIMEOUT_MS}: ${timeoutText}`);
  }
  return replicas === 0 ? null : { replicas, timeoutMs };
}

/** `[user:pass@]host:port,host:port[/path]` of a cluster or sentinel URL (its query taken off); null where it is not that. */
function hostListOf(body: string, defaultPort: number): { user?: string; pass?: string; nodes: { host: string; port: number }[]; path: string } | null {
  const at = body.lastIndexOf('@');
  const auth = at >= 0 ? body.slice(0, at) : '';
  const hostsAndPath = at >= 0 ? body.slice(at + 1) : body;
  const slash = hostsAndPath.indexOf('/');
  const hosts = slash >= 0 ? hostsAndPath.slice(0, slash) : hostsAndPath;
  const colon = auth.indexOf(':');
  const nodes = hosts.split(',').filter(Boolean).map((text) => hostPort(text, defaultPort));
  if (nodes.length === 0 || nodes.some((n) => !n.host || !Number.isInteger(n.port) || n.port < 1 || n.port > 65535)) return null;
  const user = auth ? decodeOrNull(colon >= 0 ? auth.slice(0, colon) : auth) : undefined;
  const pass = colon >= 0 ? decodeOrNull(auth.slice(colon + 1)) : undefined;
  if (user === null || pass === null) return null;
  return { user, pass, nodes, path: slash >= 0 ? hostsAndPath.slice(slash + 1) : '' };
}

/** A %-decoded URL part, or null for a bad escape. */
function decodeOrNull(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** host[:port]; an IPv6 host in brackets ([::1]:26379), taken off. */
function hostPort(text: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? defaultPort : Number(bracketed[2]) };
  const i = text.lastIndexOf(':');
  return { host: i > 0 ? text.slice(0, i) : text, port: i > 0 ? Number(text.slice(i + 1)) : defaultPort };
}

/**
 * `?natMap=` of a cluster URL: where to reach the nodes the cluster names (CLUSTER SLOTS gives the
 * addresses the nodes announce, which a client behind NAT, in another container network or behind a
 * proxy cannot reach), as `announced>reachable` pairs of host:port, comma-separated (an IPv6 host in
 * brackets).
 */
function natMapOf(text: string | null, url: string): Record<string, { host: string; port: number }> | null {
  if (text === null) return null;
  const natMap: Record<string, { host: string; port: number }> = {};
  for (const pair of text.split(',')) {
    const [from, to, more] = pair.split('>');
    const announced = from === undefined ? null : exactHostPort(from);
    const reachable = to === undefined ? null : exactHostPort(to);
    if (!announced || !reachable || more !== undefined) {
      throw new FusionError('invalid_store', `natMap takes announced>reachable pairs of host:port, comma-separated: ${pair}`, { url });
    }
    // ioredis looks a node up as host:port, its host as the cluster gives it (no brackets).
    natMap[`${announced.host}:${announced.port}`] = reachable;
  }
  return natMap;
}

/**
 * host:port with both parts there and a port from 1 to 65535, an IPv6 host in brackets (taken off:
 * `fd00::2:7000` could be either split); else null.
 */
function exactHostPort(text: string): { host: string; port: number } | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) return null;
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Drop a connection that owes an answer and has received no byte for `socketTimeoutMs`; ioredis then
 * makes a new one and sends the unanswered calls again, as after any dropped connection
 * (lost-claims.ts puts back what a lost claim leased). A check every half timeout looks at the call
 * at the head of the connection's queue and the bytes its socket read: the same call and no byte in
 * for a whole timeout means silence. Bytes written prove nothing: Node counts what waits in its own
 * buffer, so every call written to a silent connection adds some. A connection that owes nothing
 * gets a PING, so an idle one that went silent is found too (an idle worker's event connection,
 * whose messages would otherwise stop without a sign). ioredis's own socketTimeout option does much
 * the same with a timer per call: ~2 us of CPU more per sequential add, measured; this costs no call
 * anything. On a Cluster every connection is watched: each node's, as the pool holds them at each
 * check, and the subscriber's. A dropped node connection is not made again by ioredis; the Cluster
 * sends its unanswered calls again over a new one (its answer to a closed connection), and a dropped
 * subscriber is replaced on a node it picks, with its channels (pubsub.ts follows it). Returns the stop.
 */
export function watchSilence(client: RedisClient, socketTimeoutMs: number): () => void {
  if (socketTimeoutMs <= 0) return () => {};
  const watches = new Map<Redis, SilenceWatch>();
  const timer = setInterval(() => {
    const connections = connectionsOf(client);
    for (const connection of watches.keys()) if (!connections.includes(connection)) watches.delete(connection);
    for (const connection of connections) {
      let watch = watches.get(connection);
      if (!watch) watches.set(connection, (watch = { head: null, bytesRead: 0, since: 0 }));
      checkSilence(connection, watch, socketTimeoutMs);
    }
  }, Math.max(25, socketTimeoutMs / 2));
  timer.unref();
  return () => clearInterval(timer);
}

/** What one connection looked like at the check that last saw it change. */
interface SilenceWatch {
  head: unknown;
  bytesRead: number;
  since: number;
  /** When a Sentinel client was first seen without a master (0: it has one). */
  strandedSince?: number;
}

/**
 * A Sentinel client none of whose Sentinels answers keeps asking them within one connection attempt,
 * so ioredis's count of retries per call never runs out and the calls it holds would wait for good
 * (a redis:// client's fail after their retries, ~20 s). They fail once it has been without a master
 * for twice the timeout, as unavailable (the API answers 503); new calls wait for a master again.
 */
function failStrandedCalls(connection: Redis, watch: SilenceWatch, socketTimeoutMs: number): void {
  if (!connection.options.sentinels) return;
  const now = performance.now();
  watch.strandedSince ||= now;
  if (now - watch.strandedSince < 2 * socketTimeoutMs) return;
  const error = new Error(`no Redis master reached through the Sentinels: the connection timed out after ${Math.round(now - watch.strandedSince)} ms`);
  (connection as unknown as { flushQueue(err: Error, which: { offlineQueue: boolean; commandQueue: boolean }): void })
    .flushQueue(error, { offlineQueue: true, commandQueue: false });
}

/** A client's connections now: a Cluster's are its nodes' and its subscriber's. */
function connectionsOf(client: RedisClient): Redis[] {
  if (!(client instanceof Cluster)) return [client];
  const nodes = client.nodes('all');
  const subscriber = clusterSubscriber(client);
  return subscriber ? [...nodes, subscriber] : nodes;
}

/**
 * The connection a Cluster subscribes on, which ioredis keeps out of its pool (ClusterSubscriber,
 * not in its typings): null until something subscribes, replaced by another whenever it ends.
 */
export function clusterSubscriber(cluster: Cluster): Redis | null {
  return (cluster as unknown as { subscriber?: { getInstance?(): Redis | null } }).subscriber?.getInstance?.() ?? null;
}

/**
 * How much longer than the timeout a call at the head may go without an answer: a WAIT (adds that
 * wait for replicas) is answered once they confirm or after its own timeout, which Redis checks on
 * its clock's ticks (hz 10: up to 100 ms late; a second covers a slow server).
 */
function waitAllowance(head: unknown): number {
  const command = (head as { command?: { name?: string; args?: unknown[] } }).command;
  return command?.name === 'wait' ? (Number(command.args?.[1]) || 0) + 1000 : 0;
}

function checkSilence(connection: Redis, watch: SilenceWatch, socketTimeoutMs: number): void {
  // 'connect': connected, its handshake (HELLO, CLIENT SETNAME, the ready check's INFO) in the air. A
  // path that goes silent then holds the connection there for good, with every call queued behind it.
  if (connection.status !== 'ready' && connection.status !== 'connect') {
    watch.head = null;
    failStrandedCalls(connection, watch, socketTimeoutMs);
    return;
  }
  watch.strandedSince = 0;
  const silent = () => {
    const first = connection.commandQueue.peekFront() ?? null;
    return first !== null && first === watch.head && connection.stream.bytesRead === watch.bytesRead;
  };
  const first = connection.commandQueue.peekFront() ?? null;
  if (first === null) {
    watch.head = null;
    if (connection.status === 'ready') connection.ping().catch(() => {});
    return;
  }
  if (!silent()) {
    watch.head = first;
    watch.bytesRead = connection.stream.bytesRead;
    watch.since = performance.now();
    return;
  }
  if (performance.now() - watch.since < socketTimeoutMs + waitAllowance(first)) return;
  // Timers run before the loop reads sockets: after a long stall the answer may be waiting in the
  // socket. Look again once the loop has read (setImmediate runs after that phase).
  setImmediate(() => {
    if ((connection.status !== 'ready' && connection.status !== 'connect') || !silent()) return;
    watch.head = null;
    connection.stream.destroy(new Error(`no answer from Redis in ${socketTimeoutMs} ms: the connection is dropped and made again`));
  });
}
