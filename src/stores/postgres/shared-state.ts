// SharedState on PostgreSQL: one table (shared_state, migration 003), each call one statement (a
// function for the send slot), so every process on the schema agrees. Times are the caller's `now`,
// as elsewhere in the store. Expired rows read as absent and are swept a few hundred at a time
// every so many writes.
import type pg from 'pg';
import type { SharedState } from '../../core/store.js';
import { pgJsonText } from './text.js';

const SWEEP_EVERY = 500;
const SWEEP_LIMIT = 500;

export class PostgresSharedState implements SharedState {
  private writes = 0;
  /** The latest sweep (tests await it). */
  sweeping: Promise<void> = Promise.resolve();
  private readonly sql;

  constructor(private readonly pool: pg.Pool, S: string) {
    const st = (name: string, text: string) => ({ name: `fusion_shared_${name}`, text });
    this.sql = {
      hit: st('hit', `INSERT INTO ${S}.shared_state AS s (key, num, expires_at) VALUES ($1, 1, $2::bigint + $3::bigint)
        ON CONFLICT (key) DO UPDATE SET
          num = CASE WHEN s.expires_at <= $2 THEN 1 ELSE s.num + 1 END,
          value = NULL,
          expires_at = CASE WHEN s.expires_at <= $2 THEN excluded.expires_at ELSE s.expires_at END
        RETURNING num`),
      flag: st('flag', `INSERT INTO ${S}.shared_state AS s (key, num, expires_at) VALUES ($1, $3::bigint, $3::bigint)
        ON CONFLICT (key) DO UPDATE SET
          num = CASE WHEN s.expires_at <= $2 THEN excluded.num ELSE greatest(s.num, excluded.num) END,
          value = NULL,
          expires_at = CASE WHEN s.expires_at <= $2 THEN excluded.expires_at ELSE greatest(s.expires_at, excluded.expires_at) END`),
      num: st('num', `SELECT num FROM ${S}.shared_state WHERE key = $1 AND expires_at > $2`),
      take: st('take', `SELECT ${S}.shared_take($1, $2, $3, $4) AS w`),
      put: st('put', `INSERT INTO ${S}.shared_state (key, num, value, expires_at) VALUES ($1, 0, $2, $3)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, num = 0, expires_at = excluded.expires_at`),
      get: st('get', `SELECT value FROM ${S}.shared_state WHERE key = $1 AND expires_at > $2`),
      // Counters kept as one JSON object per key: each given field is added to the stored one, in one statement.
      tally: st('tally', `INSERT INTO ${S}.shared_state AS s (key, num, value, expires_at) VALUES ($1, 0, $2::jsonb, $3::bigint)
        ON CONFLICT (key) DO UPDATE SET
          num = 0,
          value = CASE WHEN s.expires_at <= $4 OR s.value IS NULL OR jsonb_typeof(s.value) <> 'object' THEN excluded.value ELSE (
            SELECT jsonb_object_agg(k, coalesce((s.value ->> k)::numeric, 0) + coalesce((excluded.value ->> k)::numeric, 0))
            FROM (SELECT jsonb_object_keys(s.value) AS k UNION SELECT jsonb_object_keys(excluded.value)) fields) END,
          expires_at = excluded.expires_at`),
      tallies: st('tallies', `SELECT key, value FROM ${S}.shared_state WHERE key = ANY($1::text[]) AND expires_at > $2`),
      // A row per member (shared_members, migration 015): O(1) in the set's size, nothing rewritten.
      addMembers: st('add_members', `INSERT INTO ${S}.shared_members (set_key, member) SELECT $1, m FROM unnest($2::text[]) m ON CONFLICT DO NOTHING`),
      members: st('members', `SELECT member FROM ${S}.shared_members WHERE set_key = $1 ORDER BY member LIMIT $2`),
      membersAfter: st('members_after', `SELECT member FROM ${S}.shared_members WHERE set_key = $1 AND member > $2 ORDER BY member LIMIT $3`),
      sweep: st('sweep', `DELETE FROM ${S}.shared_state WHERE key IN (
        SELECT key FROM ${S}.shared_state WHERE expires_at <= $1 LIMIT ${SWEEP_LIMIT} FOR UPDATE SKIP LOCKED)`),
    };
  }

  private wrote(now: number): void {
    // Best effort, off the caller's path: a failed sweep is retried on the next round.
    if (++this.writes % SWEEP_EVERY !== 0) return;
    this.sweeping = this.pool.query({ ...this.sql.sweep, values: [now] }).then(() => {}, () => {});
  }

  async hit(key: string, windowMs: number, now: number): Promise<number> {
    const { rows } = await this.pool.query<{ num: number }>({ ...this.sql.hit, values: [key, now, Math.max(1, Math.ceil(windowMs))] });
    this.wrote(now);
    return rows[0]!.num;
  }

  async flag(key: string, untilMs: number, now: number): Promise<void> {
    if (untilMs <= now) return;
    await this.pool.query({ ...this.sql.flag, values: [key, now, Math.ceil(untilMs)] });
    this.wrote(now);
  }

  async flagged(key: string, now: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ num: number }>({ ...this.sql.num, values: [key, now] });
    return rows[0] ? rows[0].num : null;
  }

  async take(key: string, perSecond: number, maxWaitMs: number, now: number): Promise<number> {
    const { rows } = await this.pool.query<{ w: number }>({ ...this.sql.take, values: [key, 1000 / perSecond, maxWaitMs, now] });
    this.wrote(now);
    return rows[0]!.w;
  }

  async put(key: string, value: unknown, ttlMs: number, now: number): Promise<void> {
    // jsonb refuses a NUL or a lone surrogate (a provider's status text in a delivery record).
    const text = value === undefined ? undefined : (JSON.stringify(value) as string | undefined);
    const json = text === undefined ? null : pgJsonText(text);
    await this.pool.query({ ...this.sql.put, values: [key, json, now + Math.max(1, Math.ceil(ttlMs))] });
    this.wrote(now);
  }

  async tally(key: string, add: Record<string, number>, ttlMs: number, now: number): Promise<void> {
    const fields: Record<string, number> = {};
    for (const [f, n] of Object.entries(add)) if (n) fields[f] = Math.round(n);
    if (Object.keys(fields).length === 0) return;
    await this.pool.query({ ...this.sql.tally, values: [key, JSON.stringify(fields), now + Math.max(1, Math.ceil(ttlMs)), now] });
    this.wrote(now);
  }

  async addMembers(set: string, members: string[]): Promise<void> {
    if (members.length === 0) return;
    await this.pool.query({ ...this.sql.addMembers, values: [set, members] });
  }

  async members(set: string, limit: number, after?: string): Promise<string[]> {
    // COLLATE "C" columns: binary order, the order of the other stores.
    const n = Math.max(0, Math.floor(limit));
    const q = after === undefined ? { ...this.sql.members, values: [set, n] } : { ...this.sql.membersAfter, values: [set, after, n] };
    const { rows } = await this.pool.query<{ member: string }>(q);
    return rows.map((r) => r.member);
  }

  async tallies(keys: string[], now: number): Promise<(Record<string, number> | null)[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.pool.query<{ key: string; value: Record<string, number> | null }>({ ...this.sql.tallies, values: [keys, now] });
    const byKey = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((k) => byKey.get(k) ?? null);
  }

  async get<T = unknown>(key: string, now: number): Promise<T | null> {
    const { rows } = await this.pool.query<{ value: T | null }>({ ...this.sql.get, values: [key, now] });
    return rows[0]?.value ?? null;
  }
}
