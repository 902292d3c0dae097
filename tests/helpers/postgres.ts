// PostgreSQL for tests: one gate (is a server reachable?), a database of the tests' own
// (fusion_test, made if missing), a random schema per store, and cleanup of exactly the schemas
// the tests made. Never touches other databases or schemas: the server may be shared (the vacuum
// test makes a database fusion_vacuum_* of its own and drops it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { resolveSpec } from '../../src/core/queue.js';

/** Where the tests connect to create their database (trust auth on loopback as in .ci/run). */
export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const PG_TEST_DB = process.env.PG_TEST_DB ?? 'fusion_test';
export const PG_URL = process.env.PG_URL ?? PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${PG_TEST_DB}$1`);

let gate: Promise<string | false> | null = null;

/**
 * false when PostgreSQL answers (and the test database exists); otherwise the reason to skip.
 * With CI=true an unreachable server throws, so a CI run cannot pass by skipping.
 */
export function pgSkip(): Promise<string | false> {
  gate ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
    c.on('error', () => {});
    try {
      await c.connect();
      const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_TEST_DB]);
      if (rows.length === 0) {
        try {
          await c.query(`CREATE DATABASE "${PG_TEST_DB}"`);
        } catch (err) {
          if ((err as { code?: string }).code !== '42P04') throw err; // made meanwhile by a parallel test file
        }
      }
      return false;
    } catch (err) {
      const why = `PostgreSQL is not reachable at ${PG_ADMIN_URL} (${(err as Error).message}).`;
      if (process.env.CI === 'true') throw new Error(`${why} CI=true requires PostgreSQL for the PostgreSQL suites.`);
      console.error(
        `\n${'!'.repeat(78)}\n!! SKIPPING POSTGRESQL SUITES: ${why}\n!! Start one with:  pg_ctlcluster 15 main start   (or: service postgresql start)\n` +
          `!! or point PG_ADMIN_URL at one (tests use database ${PG_TEST_DB}, random schemas t_*).\n${'!'.repeat(78)}\n`,
      );
      return `PostgreSQL not reachable at ${PG_ADMIN_URL}`;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return gate;
}

export function testSchema(): string {
  return `t_${randomBytes(5).toString('hex')}`;
}

export function schemaUrl(schema: string, extra = ''): string {
  return `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}${extra}`;
}

/** Drop one schema this test run made (only t_* names), on the test database or the server at `url`. */
export async function dropSchema(schema: string, url = PG_URL): Promise<void> {
  if (!/^t_[0-9a-f]{10}$/.test(schema)) throw new Error(`refusing to drop schema ${schema}: not a test schema`);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** A store on a fresh schema, and a cleanup that closes it and drops the schema. */
export async function pgHarness(schema = testSchema()): Promise<{ store: PostgresStore; schema: string; url: string; cleanup(): Promise<void> }> {
  const url = schemaUrl(schema);
  const store = await PostgresStore.open(url);
  return {
    store,
    url,
    schema,
    async cleanup() {
      await store.close();
      await dropSchema(schema);
    },
  };
}

/** A plain client on the test database (for assertions and for the application's side of a transaction). */
export async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

/** Jobs 'a' and 'b' added to queue 'q' of `store` and claimed by one worker (leases of 60 s). */
export async function twoClaimedJobs(store: PostgresStore, now: number) {
  await store.addJobs({ jobs: ['a', 'b'].map((id) => resolveSpec({ id, task: 't', queue: 'q', payload: null }, now)), now });
  const { jobs: [a, b] } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 60_000, now });
  if (!a || !b) throw new Error('two jobs added, not both claimed');
  return [a, b] as const;
}

/**
 * Whether a statement of `schema` whose text contains `fragment` comes to wait on a lock within 10 s
 * (looked at through `c` every few ms): the other side of a test holding rows it needs. Under the
 * full suite's load the statement (on a store's first connection) may reach the lock only after
 * many looks.
 */
export async function waitsOnLock(c: pg.Client, schema: string, fragment: string): Promise<boolean> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    // `c` may be inside a transaction (the one holding the rows), where pg_stat_activity is read once
    // and kept until it ends: a statement that started after the first poll would never be seen.
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND strpos(a.query, $1) > 0 AND strpos(a.query, $2) > 0`, [schema, fragment]);
    if (rows[0].n > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 5)); // not a tight loop on a loaded server
  }
  return false;
}
