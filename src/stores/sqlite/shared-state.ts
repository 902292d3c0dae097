// SharedState on SQLite: one table (shared_state in schema.ts), one statement or one IMMEDIATE
// transaction per call, so every process on the file agrees. Expired rows read as absent and are
// swept a few hundred at a time every so many writes.
import type Database from 'better-sqlite3';
import type { SharedState } from '../../core/store.js';

const SWEEP_EVERY = 500;
const SWEEP_LIMIT = 500;

export class SqliteSharedState implements SharedState {
  private statements;
  private writes = 0;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      hit: db.prepare(`INSERT INTO shared_state (key, num, expires_at) VALUES (@key, 1, @until)
        ON CONFLICT(key) DO UPDATE SET
          num = CASE WHEN expires_at <= @now THEN 1 ELSE num + 1 END,
          expires_at = CASE WHEN expires_at <= @now THEN @until ELSE expires_at END
        RETURNING num`).pluck(),
      flag: db.prepare(`INSERT INTO shared_state (key, num, expires_at) VALUES (@key, @until, @until)
        ON CONFLICT(key) DO UPDATE SET
          num = CASE WHEN expires_at <= @now THEN @until ELSE max(num, @until) END,
          expires_at = CASE WHEN expires_at <= @now THEN @until ELSE max(expires_at, @until) END`),
      num: db.prepare(`SELECT num FROM shared_state WHERE key = ? AND expires_at > ?`).pluck(),
      setNum: db.prepare(`INSERT INTO shared_state (key, num, expires_at) VALUES (@key, @num, @until)
        ON CONFLICT(key) DO UPDATE SET num = @num, value = NULL, expires_at = @until`),
      put: db.prepare(`INSERT INTO shared_state (key, value, expires_at) VALUES (@key, @value, @until)
        ON CONFLICT(key) DO UPDATE SET value = @value, num = 0, expires_at = @until`),
      get: db.prepare(`SELECT value FROM shared_state WHERE key = ? AND expires_at > ?`).pluck(),
      addMember: db.prepare(`INSERT INTO shared_members (set_key, member) VALUES (?, ?) ON CONFLICT DO NOTHING`),
      members: db.prepare(`SELECT member FROM shared_members WHERE set_key = ? ORDER BY member LIMIT ?`).pluck(),
      membersAfter: db.prepare(`SELECT member FROM shared_members WHERE set_key = ? AND member > ? ORDER BY member LIMIT ?`).pluck(),
      sweep: db.prepare(`DELETE FROM shared_state WHERE key IN (SELECT key FROM shared_state WHERE expires_at <= ? LIMIT ${SWEEP_LIMIT})`),
    };
  }

  private wrote(now: number): void {
    if (++this.writes % SWEEP_EVERY === 0) this.statements.sweep.run(now);
  }

  async hit(key: string, windowMs: number, now: number): Promise<number> {
    const n = this.statements.hit.get({ key, now, until: now + windowMs }) as number;
    this.wrote(now);
    return n;
  }

  async flag(key: string, untilMs: number, now: number): Promise<void> {
    this.statements.flag.run({ key, now, until: untilMs });
    this.wrote(now);
  }

  async flagged(key: string, now: number): Promise<number | null> {
    const v = this.statements.num.get(key, now) as number | undefined;
    return v === undefined ? null : v;
  }

  async take(key: string, perSecond: number, maxWaitMs: number, now: number): Promise<number> {
    const interval = 1000 / perSecond;
    const wait = this.db.transaction(() => {
      const tat = (this.statements.num.get(key, now) as number | undefined) ?? 0;
      const slot = Math.max(tat, now);
      const w = slot - now;
      if (w > maxWaitMs) return -Math.ceil(w) || 0; // a look (maxWaitMs -1) at a free slot: 0, not -0
      this.statements.setNum.run({ key, num: slot + interval, until: Math.ceil(slot + interval) + 1000 });
      return Math.ceil(w);
    }).immediate();
    this.wrote(now);
    return wait;
  }

  async put(key: string, value: unknown, ttlMs: number, now: number): Promise<void> {
    this.statements.put.run({ key, value: JSON.stringify(value), until: now + ttlMs });
    this.wrote(now);
  }

  async get<T = unknown>(key: string, now: number): Promise<T | null> {
    const v = this.statements.get.get(key, now) as string | null | undefined;
    return v == null ? null : (JSON.parse(v) as T);
  }

  async tally(key: string, add: Record<string, number>, ttlMs: number, now: number): Promise<void> {
    // The counters are one JSON object in the row's value, read and written in one IMMEDIATE transaction.
    this.db.transaction(() => {
      const v = this.statements.get.get(key, now) as string | null | undefined;
      const cur = (v == null ? {} : JSON.parse(v)) as Record<string, number>;
      for (const [f, n] of Object.entries(add)) if (n) cur[f] = (cur[f] ?? 0) + Math.round(n);
      this.statements.put.run({ key, value: JSON.stringify(cur), until: now + ttlMs });
    }).immediate();
    this.wrote(now);
  }

  async addMembers(set: string, members: string[]): Promise<void> {
    // A row per member (shared_members, migration 004): O(1) in the set's size, nothing rewritten.
    if (members.length === 1) this.statements.addMember.run(set, members[0]);
    else if (members.length > 1) this.db.transaction(() => { for (const m of members) this.statements.addMember.run(set, m); }).immediate();
  }

  async members(set: string, limit: number, after?: string): Promise<string[]> {
    // BINARY collation: byte order (the code unit order of JS's sort for these strings).
    const n = Math.max(0, Math.floor(limit));
    return (after === undefined ? this.statements.members.all(set, n) : this.statements.membersAfter.all(set, after, n)) as string[];
  }

  async tallies(keys: string[], now: number): Promise<(Record<string, number> | null)[]> {
    return keys.map((key) => {
      const v = this.statements.get.get(key, now) as string | null | undefined;
      return v == null ? null : (JSON.parse(v) as Record<string, number>);
    });
  }
}
