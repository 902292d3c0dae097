// Turning a store URL into ioredis clients:
//   redis://[user:pass@]host:port[/db][?prefix=p&socketTimeout=ms]   rediss://...  (TLS)
//   redis+cluster://[user:pass@]host:port,host:port[?prefix=p&tls=1&socketTimeout=ms]
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { FusionError } from '../../core/errors.js';

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  cluster: boolean;
  prefix: string | null;
  /** How long a connection with calls in the air may stay silent before it is dropped and made again (0: never). */
  socketTimeoutMs: number;
  create(role: string): RedisClient;
}

/**
 * A connection whose path went silent (a NAT or firewall that forgot it, a failover that moved the
 * server's address) sees no close: without watchSilence its calls wait for TCP to give up, ~15
 * minutes. 10 s is twice Redis's own busy-script threshold: an answer that late means a dead path.
 */
export const DEFAULT_SOCKET_TIMEOUT_MS = 10_000;

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
  const m = /^(redis|rediss|redis\+cluster):\/\/(.*)$/.exec(url);
  if (!m) throw new FusionError('invalid_store', `not a Redis URL: ${url}`, { url });
  const [, scheme, rest] = m as unknown as [string, string, string];
  const qi = rest.indexOf('?');
  const params = new URLSearchParams(qi >= 0 ? rest.slice(qi + 1) : '');
  const prefix = params.get('prefix');
  const socketTimeoutMs = socketTimeoutOf(params.get('socketTimeout'), url);
  if (scheme !== 'redis+cluster') {
    const u = new URL(url);
    // ioredis reads a URL's query as its own options: these two are Fusion's.
    u.searchParams.delete('prefix');
    u.searchParams.delete('socketTimeout');
    const clean = u.toString();
    return { cluster: false, prefix, socketTimeoutMs, create: (role) => new Redis(clean, common(role)) };
  }
  const body = qi >= 0 ? rest.slice(0, qi) : rest;
  const at = body.lastIndexOf('@');
  const auth = at >= 0 ? body.slice(0, at) : '';
  const hosts = (at >= 0 ? body.slice(at + 1) : body).replace(/\/.*$/, '');
  const [user, pass] = auth ? auth.split(':').map(decodeURIComponent) : [];
  const nodes = hosts.split(',').filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: i > 0 ? hp.slice(0, i) : hp, port: i > 0 ? Number(hp.slice(i + 1)) : 6379 };
  });
  if (nodes.length === 0 || nodes.some((n) => !Number.isInteger(n.port))) {
    throw new FusionError('invalid_store', `a cluster URL needs host:port,host:port: ${url}`, { url });
  }
  const tls = params.get('tls') === '1' || params.get('tls') === 'true';
  return {
    cluster: true,
    prefix,
    socketTimeoutMs,
    create: (role) => {
      const { enableAutoPipelining, retryStrategy, ...redisOptions } = common(role);
      return new Cluster(nodes, {
        enableAutoPipelining,
        clusterRetryStrategy: retryStrategy,
        redisOptions: { ...redisOptions, username: user || undefined, password: pass || undefined, ...(tls ? { tls: {} } : {}) },
      });
    },
  };
}

function socketTimeoutOf(text: string | null, url: string): number {
  if (text === null) return DEFAULT_SOCKET_TIMEOUT_MS;
  const ms = Number(text);
  if (text.trim() === '' || !Number.isInteger(ms) || ms < 0) {
    throw new FusionError('invalid_store', `socketTimeout must be a whole number of milliseconds (0 turns it off): ${text}`, { url });
  }
  return ms;
}

/**
 * Drop a connection that owes an answer and got none for `socketTimeoutMs`; ioredis then makes a
 * new one and sends the unanswered calls again, as after any dropped connection (lost-claims.ts
 * covers claims). A check every half timeout looks at the call at the head of the connection's
 * queue: the same one for a whole timeout means no answer came in that time. A connection that owes
 * nothing gets a PING, so an idle one that went silent is found too (an idle worker's event
 * connection, whose messages would otherwise stop without a sign). ioredis's own socketTimeout does
 * the same with a timer per call: ~5 us of CPU more per sequential add, measured; this costs no call
 * anything. On Cluster every node's connection is watched. Returns the stop.
 */
export function watchSilence(client: RedisClient, socketTimeoutMs: number): () => void {
  if (socketTimeoutMs <= 0) return () => {};
  if (client instanceof Cluster) {
    const stops = new Map<Redis, () => void>();
    const add = (node: Redis) => stops.set(node, watchSilence(node, socketTimeoutMs));
    const remove = (node: Redis) => {
      stops.get(node)?.();
      stops.delete(node);
    };
    for (const node of client.nodes()) add(node);
    client.on('+node', add);
    client.on('-node', remove);
    return () => {
      client.off('+node', add);
      client.off('-node', remove);
      for (const stop of stops.values()) stop();
    };
  }
  let head: unknown = null;
  let headSince = 0;
  const timer = setInterval(() => {
    if (client.status !== 'ready') {
      head = null;
      return;
    }
    const now = performance.now();
    const first = client.commandQueue.peekFront() ?? null;
    if (first === null) {
      head = null;
      client.ping().catch(() => {});
    } else if (first !== head) {
      head = first;
      headSince = now;
    } else if (now - headSince >= socketTimeoutMs) {
      head = null;
      client.stream.destroy(new Error(`no answer from Redis in ${socketTimeoutMs} ms: the connection is dropped and made again`));
    }
  }, Math.max(25, socketTimeoutMs / 2));
  timer.unref();
  return () => clearInterval(timer);
}
