// SharedState on Redis: one key per name under the store's prefix (`<prefix>:shared:<key>`), each
// call one command or one single-key script, so it runs the same on Redis Cluster. Expiry is Redis's
// own (PX); times compared inside a script are the caller's `now`, as elsewhere in the store. The
// scripts (lua/shared-state/) are sent whole with EVAL.
import type { Redis } from 'ioredis';
import type { SharedState } from '../../core/store.js';
import type { RedisClient } from './connect.js';
import { readLua } from './scripts.js';

const HIT = readLua('shared-state/hit');
const FLAG = readLua('shared-state/flag');
const TAKE = readLua('shared-state/take');
const TALLY = readLua('shared-state/tally');

export class RedisSharedState implements SharedState {
  private readonly client: Redis;

  constructor(client: RedisClient, private readonly prefix: string) {
    // Redis and Cluster share these commands; one type keeps the calls simple.
    this.client = client as Redis;
  }

  private k(key: string): string {
    return `${this.prefix}:shared:${key}`;
  }

  async hit(key: string, windowMs: number, _now: number): Promise<number> {
    return Number(await this.client.eval(HIT, 1, this.k(key), Math.max(1, Math.ceil(windowMs))));
  }

  async flag(key: string, untilMs: number, now: number): Promise<void> {
    if (untilMs <= now) return;
    await this.client.eval(FLAG, 1, this.k(key), Math.ceil(untilMs), now);
  }

  async flagged(key: string, now: number): Promise<number | null> {
    const v = await this.client.get(this.k(key));
    const until = v === null ? NaN : Number(v);
    return Number.isFinite(until) && until > now ? until : null;
  }

  async take(key: string, perSecond: number, maxWaitMs: number, now: number): Promise<number> {
    return Number(await this.client.eval(TAKE, 1, this.k(key), now, 1000 / perSecond, maxWaitMs));
  }

  async put(key: string, value: unknown, ttlMs: number, _now: number): Promise<void> {
    await this.client.set(this.k(key), JSON.stringify(value), 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async get<T = unknown>(key: string, _now: number): Promise<T | null> {
    const v = await this.client.get(this.k(key));
    return v === null ? null : (JSON.parse(v) as T);
  }

  async tally(key: string, add: Record<string, number>, ttlMs: number, _now: number): Promise<void> {
    const args: (string | number)[] = [Math.max(1, Math.ceil(ttlMs))];
    for (const [f, n] of Object.entries(add)) if (n) args.push(f, Math.round(n));
    if (args.length > 1) await this.client.eval(TALLY, 1, this.k(key), ...args);
  }

  async addMembers(set: string, members: string[]): Promise<void> {
    // A sorted set, every member at score 0, so it is ordered by its bytes (ZADD: O(log N)). One
    // key: one slot on a Cluster. No expiry, like the rows of the SQL stores.
    if (members.length === 0) return;
    await this.client.zadd(this.k(set), ...members.flatMap((m) => [0, m]));
  }

  async members(set: string, limit: number, after?: string): Promise<string[]> {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    return this.client.zrangebylex(this.k(set), after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, n);
  }

  async tallies(keys: string[], _now: number): Promise<(Record<string, number> | null)[]> {
    // One command per key (each its own slot on a Cluster), sent together.
    return Promise.all(keys.map(async (key) => {
      const h = await this.client.hgetall(this.k(key));
      const fields = Object.entries(h);
      return fields.length === 0 ? null : Object.fromEntries(fields.map(([f, v]) => [f, Number(v)]));
    }));
  }
}
