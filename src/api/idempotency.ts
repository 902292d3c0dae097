// Idempotency-Key on POST/PATCH/DELETE, in two layers:
//  1. Durable: routes that create jobs or schedules derive the new id from (caller, key), so a replay
//     in any process, after any restart, meets the same row in the store and cannot make a second one.
//     The stored job is then compared with the request (jobsMatch) to tell a replay from a reuse.
//  2. Per process: a bounded LRU (default 10,000 keys, 24 h) remembers the exact first answer of every
//     keyed request, replays it byte for byte, refuses the key with another body (422), and makes a
//     concurrent duplicate wait for the first instead of racing it. Operations that are not creations
//     (cancel, pause, ...) rely on this layer alone; they are naturally convergent anyway.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Job, NewJob } from '../core/job.js';
import { apiError } from './errors.js';

/** A route's handler as the onRoute hook sees it. */
type RouteHandler = (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) => unknown;

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAY_HEADER = 'Idempotency-Replay';
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted, so that field order does not make two equal bodies differ. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url');

/** The id a keyed creation gets: stable for (caller, key), unguessable from the key alone. */
export function derivedId(prefix: string, principal: string, key: string): string {
  return `${prefix}_${digest(`${principal}\u0000${key}`).slice(0, 32)}`;
}

/**
 * Does the stored job carry what this request asks for? Times are left out: a job's runAt moves on
 * retries and reschedules, so it cannot tell a replay from a reuse after the fact.
 */
export function jobsMatch(existing: Job, wanted: NewJob): boolean {
  return (
    existing.task === wanted.task &&
    existing.queue === wanted.queue &&
    existing.priority === wanted.priority &&
    existing.maxAttempts === wanted.maxAttempts &&
    existing.timeout === wanted.timeout &&
    existing.maxStalls === wanted.maxStalls &&
    existing.description === wanted.description &&
    existing.scheduleId === wanted.scheduleId &&
    canonicalJson(existing.payload ?? null) === canonicalJson(wanted.payload ?? null) &&
    canonicalJson(existing.backoff) === canonicalJson(wanted.backoff) &&
    canonicalJson(existing.tags) === canonicalJson(wanted.tags) &&
    canonicalJson(existing.callbacks ?? null) === canonicalJson(wanted.callbacks ?? null)
  );
}

export const keyReused = (key: string) =>
  apiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request body', {
    field: 'Idempotency-Key', key,
  });

interface Stored {
  fingerprint: string;
  bytes: number;
  expiresAt: number;
  /** Settles when the first request's answer is known; null when it failed and may be retried. */
  answer: Promise<{ status: number; body: string; contentType: string } | null>;
  resolve: (a: { status: number; body: string; contentType: string } | null) => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request carries an Idempotency-Key: the caller-scoped key. */
    idempotency?: { key: string; principal: string; entry?: Stored; scope: string };
  }
}

export interface IdempotencyOptions {
  maxEntries?: number;
  /** Bound on the answer bytes kept (default 64 MiB); an answer over a sixteenth of it is not kept. */
  maxBytes?: number;
  ttlMs?: number;
  now?: () => number;
}

export class IdempotencyCache {
  private entries = new Map<string, Stored>();
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
  private bytes = 0;
  private now: () => number;

  constructor(opts: IdempotencyOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.ttlMs = opts.ttlMs ?? 24 * 3600_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Either the entry of an earlier request with this key, or a fresh one this request now owns. */
  claim(scope: string, fingerprint: string): { entry: Stored; owner: boolean } {
    const now = this.now();
    const old = this.entries.get(scope);
    if (old && old.expiresAt > now) {
      // Refresh LRU position.
      this.entries.delete(scope);
      this.entries.set(scope, old);
      return { entry: old, owner: false };
    }
    if (old) this.drop(scope, old);
    let resolve!: Stored['resolve'];
    const answer = new Promise<{ status: number; body: string; contentType: string } | null>((r) => (resolve = r));
    const entry: Stored = { fingerprint, bytes: 0, expiresAt: now + this.ttlMs, answer, resolve };
    this.entries.set(scope, entry);
    this.evict();
    return { entry, owner: true };
  }

  get storedBytes(): number {
    return this.bytes;
  }

  settle(scope: string, entry: Stored, answer: { status: number; body: string; contentType: string } | null): void {
    const size = answer ? Buffer.byteLength(answer.body) : 0;
    // Waiters get the answer either way; only answers of reasonable size stay for later replays
    // (a big bulk answer is still replayed across requests by its derived job ids).
    entry.resolve(answer);
    if (answer === null || size > this.maxBytes / 16) {
      if (this.entries.get(scope) === entry) this.drop(scope, entry);
      return;
    }
    if (this.entries.get(scope) !== entry) return;
    entry.bytes = size;
    this.bytes += size;
    this.evict();
  }

  private drop(scope: string, e: Stored): void {
    this.entries.delete(scope);
    this.bytes -= e.bytes;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [scope, e] = this.entries.entries().next().value!;
      this.drop(scope, e);
    }
  }
}

/**
 * Checks the key before the handler and returns what records the answer: the server's one onSend
 * hook calls it for every request (a hook of its own cost a hook run per request). The check wraps
 * each route's handler (an onRoute hook, so it must be installed before the routes), not a
 * preHandler hook: a hook stage ran Fastify's hook runner (three closures and a call chain) on every
 * request, where a request without the header (almost all of them) now pays one header read. It
 * runs where the hook did, after validation and right before the handler (no route has preHandler
 * hooks of its own); only a known route's requests reach it (an unknown POST answers 404, keyed or
 * not). A keyed request's handler runs once the check resolves, and the wrapper hands Fastify a
 * promise: the handler's own, or the reply (a thenable that settles when the answer is sent) for a
 * handler that answers by itself; a refusal rejects it, which Fastify sends as it sent a hook's error.
 * onSend runs for every answer sent, errors included; the entry is settled there whatever the
 * status, so no waiter is left hanging (a response Node finishes without onSend is a hijacked one,
 * and no keyed route hijacks).
 */
export function installIdempotency(
  app: FastifyInstance, cache: IdempotencyCache, principalOf: (req: FastifyRequest) => string,
): (req: FastifyRequest, reply: FastifyReply, payload: unknown) => void {
  const check = async (req: FastifyRequest, reply: FastifyReply, raw: string | string[]): Promise<boolean> => {
    const key = Array.isArray(raw) ? raw[0]! : raw;
    if (!KEY_FORMAT.test(key)) {
      throw apiError(400, 'invalid_request', 'Idempotency-Key must be 1-255 visible ASCII characters', { field: 'Idempotency-Key' });
    }
    const principal = principalOf(req);
    const scope = `${principal}\u0000${key}`;
    const fingerprint = digest(`${req.method} ${req.routeOptions.url ?? req.url} ${canonicalJson(req.params)} ${canonicalJson(req.body ?? null)}`);
    const { entry, owner } = cache.claim(scope, fingerprint);
    if (!owner) {
      if (entry.fingerprint !== fingerprint) throw keyReused(key);
      const first = await entry.answer;
      if (first) {
        reply.code(first.status).header(REPLAY_HEADER, 'true');
        if (first.body !== '') reply.type(first.contentType);
        reply.send(first.body);
        return true;
      }
      // The first attempt failed; this one runs as a new attempt and owns a new entry.
      const again = cache.claim(scope, fingerprint);
      req.idempotency = { key, principal, scope, entry: again.owner ? again.entry : undefined };
      return false;
    }
    req.idempotency = { key, principal, scope, entry };
    return false;
  };

  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    if (methods.every((m) => m === 'GET' || m === 'HEAD')) return;
    const handler = route.handler as RouteHandler;
    route.handler = function keyed(this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
      const raw = req.headers[IDEMPOTENCY_HEADER];
      if (raw === undefined || req.method === 'GET' || req.method === 'HEAD') return handler.call(this, req, reply);
      return check(req, reply, raw).then((replied) => {
        if (replied) return reply;
        const out = handler.call(this, req, reply);
        return out === undefined ? reply : out;
      });
    };
  });

  return (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem?.entry) return;
    const entry = idem.entry;
    idem.entry = undefined;
    // An answer without a body (a DELETE's 204) is an answer too: replayed as it was sent.
    const body = typeof payload === 'string' ? payload : payload === undefined || payload === null ? '' : null;
    const ok = reply.statusCode >= 200 && reply.statusCode < 300 && body !== null;
    cache.settle(idem.scope, entry, ok ? { status: reply.statusCode, body: body!, contentType: String(reply.getHeader('content-type') ?? 'application/json') } : null);
  };
}
