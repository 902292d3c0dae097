// Connections whose path went silent: no close, no error, no bytes (a NAT or firewall that forgot
// the path, a failover that moved the server's address). TCP would take ~15 minutes to give up on
// them. Unlike Redis (stores/redis/connect.ts: watchSilence), a long silence proves nothing here: a
// statement may run for minutes and send nothing meanwhile. So a connection that has waited on one
// statement for socketTimeoutMs is looked up from a new connection, in the server's own view of its
// backends (pg_stat_activity): if that backend is running a statement, the wait goes on; if it is
// idle (it answered, and the answer was lost), if it is gone (or this is another server, after a
// failover), or if the server cannot be reached within the timeout, the connection is destroyed. Its
// call then fails as after pg_terminate_backend, and the pool opens a new one for the next.
import pg from 'pg';
import { TYPES } from './connect.js';

/** What this reads of a pg Client beyond its typings (pg 8): the statement it waits on, its backend, its socket. */
interface ClientInternals {
  _activeQuery: object | null;
  processID: number | null;
  connection: { stream: { destroy(err?: Error): void } };
}

const internals = (client: pg.ClientBase) => client as unknown as ClientInternals;

export class SilenceWatch {
  /** Watched connections, and whether each gets a SELECT 1 when idle (the LISTEN connection, which otherwise owes nothing). */
  private readonly clients = new Map<pg.ClientBase, boolean>();
  /** Per connection: the statement it was first seen waiting on, and since when. */
  private readonly waits = new Map<pg.ClientBase, { statement: object; since: number }>();
  private readonly timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(private readonly connectionString: string, private readonly timeoutMs: number, private readonly onError: (err: Error) => void) {
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => void this.check(), Math.max(25, timeoutMs / 2));
    this.timer.unref();
  }

  /** Watch a connection until it is unwatched (the pool removed it, or its owner closed it). */
  watch(client: pg.ClientBase, pingWhenIdle = false): void {
    if (this.timer) this.clients.set(client, pingWhenIdle);
  }

  unwatch(client: pg.ClientBase): void {
    this.clients.delete(client);
    this.waits.delete(client);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.clients.clear();
    this.waits.clear();
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = performance.now();
      const suspects: pg.ClientBase[] = [];
      for (const [client, pingWhenIdle] of this.clients) {
        const statement = internals(client)._activeQuery;
        const wait = this.waits.get(client);
        if (!statement) {
          this.waits.delete(client);
          if (pingWhenIdle) client.query('SELECT 1').catch(() => {});
        }
        else if (wait?.statement !== statement) this.waits.set(client, { statement, since: now });
        else if (now - wait.since >= this.timeoutMs) suspects.push(client);
      }
      if (suspects.length === 0) return;
      const running = await this.runningBackends(suspects.map((c) => internals(c).processID ?? 0)).catch((err: Error) => {
        this.onError(err);
        return new Set<number>();
      });
      for (const client of suspects) {
        if (running.has(internals(client).processID ?? 0)) continue;
        this.unwatch(client);
        internals(client).connection.stream.destroy(new Error(`no answer from PostgreSQL in ${this.timeoutMs} ms, and its backend runs no statement: the connection is dropped`));
      }
    } finally {
      this.checking = false;
    }
  }

  /** Of these backends, those running a statement now; rejects when the server cannot be reached in time. */
  private async runningBackends(pids: number[]): Promise<Set<number>> {
    const probe = new pg.Client({ connectionString: this.connectionString, types: TYPES, connectionTimeoutMillis: this.timeoutMs, query_timeout: this.timeoutMs });
    probe.on('error', () => {});
    try {
      await probe.connect();
      const { rows } = await probe.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active'`, [pids]);
      void probe.end().catch(() => {});
      return new Set(rows.map((r) => r.pid));
    } catch (err) {
      // end() would wait for the server's goodbye, which a silent path never sends.
      internals(probe).connection.stream.destroy();
      throw err;
    }
  }
}
