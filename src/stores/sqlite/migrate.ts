// Numbered migrations (migrations/NNN_name.sql), applied at open in one IMMEDIATE transaction, so
// processes opening a file together apply each once; the number of the last one applied is the
// file's schema version, kept in the meta table as schema_version. A file made before versions were
// recorded has none (version 0): the baseline (001) is written to fit over it. tsc does not copy
// .sql files: they are read from the source tree, as the PostgreSQL migrations are.
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { sourceDir } from '../source-dir.js';

export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

/** Where the .sql files are: beside this module (src/), or back in src/ from dist/src/. */
export function migrationsDir(): string {
  return sourceDir(import.meta.url, ['./migrations/', '../../../../src/stores/sqlite/migrations/'], 'SQLite migrations');
}

let loaded: SqliteMigration[] | null = null;

/** The migrations in order (read once per process). */
export function sqliteMigrations(): SqliteMigration[] {
  if (loaded) return loaded;
  const dir = migrationsDir();
  loaded = readdirSync(dir)
    .filter((file) => /^\d{3}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 3)), name: file.replace(/\.sql$/, ''), sql: readFileSync(`${dir}/${file}`, 'utf8') }));
  return loaded;
}

export const LATEST_SQLITE_VERSION = (): number => Math.max(0, ...sqliteMigrations().map((m) => m.version));

/** The file's schema version: 0 when none is recorded (a new file, or one made before versions). */
export function schemaVersion(db: Database.Database): number {
  const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get();
  if (!hasMeta) return 0;
  const value = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get() as string | undefined;
  return value === undefined ? 0 : Number(value);
}

/** Bring the file up to `upTo` (default: the latest). Returns the versions applied now. */
export function migrate(db: Database.Database, upTo = Infinity): number[] {
  const pending = () => {
    const current = schemaVersion(db);
    return sqliteMigrations().filter((m) => m.version > current && m.version <= upTo);
  };
  // Read first: an up-to-date file (every open but the first) takes no write lock.
  if (pending().length === 0) return [];
  return db.transaction(() => {
    // Again under the lock: another process may have migrated meanwhile.
    const todo = pending();
    for (const m of todo) db.exec(m.sql);
    if (todo.length) {
      db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
        .run(String(todo.at(-1)!.version));
    }
    return todo.map((m) => m.version);
  }).immediate();
}
