// Numbered migrations (migrations/NNN_name.sql), applied at start in one transaction under an
// advisory lock, so processes starting together apply each once. tsc does not copy .sql files:
// they are read from the source tree, found relative to this module both from src/ and from dist/.
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { sourceDir } from '../source-dir.js';
import { quoteIdent } from './sql.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Where the .sql files are: beside this module (src/), or back in src/ from dist/src/. */
export function migrationsDir(): string {
  return sourceDir(import.meta.url, ['./migrations/', '../../../../src/stores/postgres/migrations/'], 'PostgreSQL migrations');
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: readFileSync(`${dir}/${f}`, 'utf8') }));
}

export const LATEST_VERSION = (): number => Math.max(0, ...loadMigrations().map((m) => m.version));

/**
 * Bring `schema` up to `upTo` (default: the latest). The lock key is the schema's: stores on other
 * schemas migrate in parallel. Returns the versions applied now.
 */
export async function migrate(client: pg.ClientBase, schema: string, upTo = Infinity): Promise<number[]> {
  const s = quoteIdent(schema);
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('fusion:migrate'), hashtext($1))`, [schema]);
    // Only what is missing: the server checks the right to create before IF NOT EXISTS, so a role
    // given its schema by an administrator (no CREATE on the database), or one that may only read
    // and write rows of an up-to-date schema, could not open the store at all.
    const { rows: [has] } = await client.query<{ schema: boolean; versions: boolean }>(
      `SELECT to_regnamespace($1) IS NOT NULL AS schema, to_regclass($2) IS NOT NULL AS versions`, [s, `${s}.schema_version`]);
    if (!has!.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`SET LOCAL search_path TO ${s}`);
    if (!has!.versions) {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    }
    const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM schema_version`);
    const current = rows[0]?.v ?? 0;
    for (const m of loadMigrations()) {
      if (m.version <= current || m.version > upTo) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO schema_version (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return applied;
}

/** The schema's version: the highest migration applied, 0 when none. */
export async function schemaVersion(client: pg.ClientBase | pg.Pool, schema: string): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>(
    `SELECT CASE WHEN to_regclass($1) IS NULL THEN 0 ELSE NULL END AS v`,
    [`${quoteIdent(schema)}.schema_version`],
  );
  if (rows[0]!.v === 0) return 0;
  const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${quoteIdent(schema)}.schema_version`);
  return r.rows[0]?.v ?? 0;
}
