// Vacuuming the schema's tables where autovacuum does not. The jobs table turns over fast (every
// job is inserted, updated a few times and deleted by retention): with the server's autovacuum off
// its dead tuples are never reclaimed, and a ten-minute soak at 1,000 jobs/s left 1.8 million of
// them and a 566 MB table for ~3,500 live rows. Where autovacuum runs for the jobs table, its own
// settings (001) keep it small and this does nothing. After retention has removed DEAD_ROWS rows
// (this process's count), the schema's tables are vacuumed; at most one process vacuums a schema
// at a time (a try-lock: the others skip and try again after their next DEAD_ROWS).
import type { PostgresContext } from './context.js';
import { quoteIdent } from './sql.js';

/** Rows removed by retention, in this process, between two vacuums (the jobs table's autovacuum threshold). */
const DEAD_ROWS = 1000;

export class SchemaVacuum {
  private removed = 0;
  private running = false;
  /** null until read: whether autovacuum runs for the jobs table (the server's setting and the table's). */
  private autovacuum: boolean | null = null;

  constructor(private readonly ctx: PostgresContext) {}

  /** Count rows retention removed; vacuum once enough have been, unless autovacuum does. */
  async afterDeletes(removed: number): Promise<void> {
    this.removed += removed;
    if (this.running || this.removed < DEAD_ROWS) return;
    this.running = true;
    try {
      if (await this.autovacuumRuns()) return;
      this.removed = 0;
      await this.vacuumSchema();
    } finally {
      this.running = false;
    }
  }

  private async autovacuumRuns(): Promise<boolean> {
    if (this.autovacuum === null) {
      const { rows } = await this.ctx.pool.query<{ on: boolean }>(
        `SELECT current_setting('autovacuum') = 'on' AND NOT coalesce('autovacuum_enabled=false' = ANY (reloptions), false) AS on
         FROM pg_class WHERE oid = $1::regclass`,
        [`${this.ctx.quotedSchema}.jobs`],
      );
      this.autovacuum = rows[0]!.on;
    }
    return this.autovacuum;
  }

  private async vacuumSchema(): Promise<void> {
    const { pool, schema, quotedSchema } = this.ctx;
    // VACUUM runs outside a transaction, on a connection of its own for the lock's lifetime.
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ got: boolean }>(`SELECT pg_try_advisory_lock(hashtext('fusion:vacuum'), hashtext($1)) AS got`, [schema]);
      if (!rows[0]!.got) return;
      try {
        const { rows: tables } = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = $1`, [schema]);
        for (const t of tables) await client.query(`VACUUM (ANALYZE) ${quotedSchema}.${quoteIdent(t.name)}`);
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtext('fusion:vacuum'), hashtext($1))`, [schema]);
      }
    } finally {
      client.release();
    }
  }
}
