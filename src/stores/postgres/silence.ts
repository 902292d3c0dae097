// Connections whose path went silent: no close, no error, no bytes (a NAT or firewall that forgot
// the path, a failover that moved the server's address). TCP would take ~15 minutes to give up on
// them. Unlike Redis (stores/redis/connect.ts: watchSilence), a long silence proves nothing here: a
// statement may run for minutes and send nothing meanwhile. So a connection that has waited on one
// statement for socketTimeoutMs, with no byte moving either way, is looked up from a new connection
// in the server's own view of its backends (pg_stat_activity), by pid and start time: if that
// backend is running the statement, the wait goes on; if it is idle (it answered, and the answer was
// lost), blocked writing to us, gone (or this is another server, after a failover), or if the server
// cannot be reached at all, the connection is destroyed and its backend, if still there and not
// running anything, is terminated (an idle transaction would hold its locks for hours). The call
// fails as unavailable and the pool opens a new connection for the next.
import pg from 'pg';
import { TYPES } from './connect.js';

/** What this reads of a pg Client beyond its typings (pg 8): the statement it waits on, its backend, its socket. */
interface ClientInternals {
  _activeQuery: object | null;
  processID: number | null;
  connection: { stream: { destroy(err?: Error): void; bytesRead: number; bytesWritten: number } };
}

const internals = (client: pg.ClientBase) => client as unknown as ClientInternals;

/** A watched connection: its backend as the server names it, and what it was last seen doing. */
interface Watched {
  pid: number;
  /** The backend's start, as text: with the pid, a name no other server's backend has. */
  backendStart: string;
  /** A SELECT 1 when idle: the LISTEN connection, which otherwise owes nothing. */
  pingWhenIdle: boolean;
  statement: object | null;
  bytes: number;
  since: number;
}

/** The probe's own timeouts: a slow server is not a dead path, so it gets at least this long to answer. */
const PROBE_TIMEOUT_FLOOR_MS = 5000;

export class SilenceWatch {
  private readonly clients = new Map<pg.ClientBase, Watched>();
  private readonly timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(private readonly connectionString: string, private readonly timeoutMs: number, private readonly onError: (err: Error) => void) {
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => void this.check(), Math.max(25, timeoutMs / 2));
    this.timer.unref();
  }

  /** Connect timeout for the store's connections: a blackholed address would hold a connect for minutes. */
  get connectTimeoutMs(): number {
    return this.timeoutMs > 0 ? Math.max(this.timeoutMs, PROBE_TIMEOUT_FLOOR_MS) : 0;
  }

  /**
   * Watch a new connection until it is unwatched (the pool removed it, or its owner closed it). Its
   * first statement asks the server for its backend's pid and start; a connection whose pid is not
   * its backend's (behind PgBouncer, RDS Proxy and the like, which answer with their own) is not
   * watched: the server's view could not tell its statements apart.
   */
  watch(client: pg.ClientBase, pingWhenIdle = false): void {
    if (!this.timer) return;
    // A destroyed connection errors; a checked-out pg client has no other listener, and an error
    // without one would end the process. The pending call rejects on its own.
    client.on('error', (err: Error) => this.onError(err));
    client.query<{ pid: number; started: string }>('SELECT pid, backend_start::text AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()').then(({ rows }) => {
      const row = rows[0];
      if (!row || row.pid !== internals(client).processID) return;
      this.clients.set(client, { pid: row.pid, backendStart: row.started, pingWhenIdle, statement: null, bytes: 0, since: 0 });
    }, () => {});
  }

  unwatch(client: pg.ClientBase): void {
    this.clients.delete(client);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.clients.clear();
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = performance.now();
      const suspects: [pg.ClientBase, Watched, object][] = [];
      for (const [client, watched] of this.clients) {
        const statement = internals(client)._activeQuery;
        const { bytesRead, bytesWritten } = internals(client).connection.stream;
        const bytes = bytesRead + bytesWritten;
        if (!statement) {
          watched.statement = null;
          if (watched.pingWhenIdle) client.query('SELECT 1').catch(() => {});
        } else if (statement !== watched.statement || bytes !== watched.bytes) {
          // A new statement, or bytes moving (a big batch going out, a big result coming in): alive.
          watched.statement = statement;
          watched.bytes = bytes;
          watched.since = now;
        } else if (now - watched.since >= this.timeoutMs) suspects.push([client, watched, statement]);
      }
      if (suspects.length > 0) await this.settle(suspects);
    } finally {
      this.checking = false;
    }
  }

  /** Ask the server about the suspects; destroy those whose backends run nothing for them. */
  private async settle(suspects: [pg.ClientBase, Watched, object][]): Promise<void> {
    const timeout = Math.max(this.timeoutMs, PROBE_TIMEOUT_FLOOR_MS);
    const probe = new pg.Client({ connectionString: this.connectionString, types: TYPES, connectionTimeoutMillis: timeout, query_timeout: timeout });
    probe.on('error', () => {});
    const running = new Set<string>();
    let reached = false;
    try {
      await probe.connect();
      reached = true;
      // Running our statement: active and not blocked writing its answer to a path that takes nothing.
      const { rows } = await probe.query<{ pid: number; started: string }>(
        `SELECT pid, backend_start::text AS started FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active' AND wait_event IS DISTINCT FROM 'ClientWrite'`,
        [suspects.map(([, w]) => w.pid)]);
      for (const r of rows) running.add(`${r.pid} ${r.started}`);
    } catch (err) {
      this.onError(err as Error);
      // The server answered, with an error of its own (too many connections, starting up): it is
      // reachable, so this says nothing of the suspects. Only a path that fails cuts them.
      if (/^[0-9A-Z]{5}$/.test(String((err as { code?: unknown }).code ?? ''))) {
        void probe.end().catch(() => {});
        return;
      }
    }
    const cut: [pg.ClientBase, Watched][] = [];
    for (const [client, watched, statement] of suspects) {
      // Answered while the probe was out (a loop stall held the answer back, or it just finished).
      if (this.clients.get(client) !== watched || internals(client)._activeQuery !== statement) continue;
      if (!running.has(`${watched.pid} ${watched.backendStart}`)) cut.push([client, watched]);
    }
    if (reached) {
      // The backends first, so that when the calls fail their locks are already free.
      try {
        if (cut.length > 0) {
          await probe.query(`SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
            JOIN unnest($1::int[], $2::text[]) AS cut(pid, started) ON a.pid = cut.pid AND a.backend_start::text = cut.started
            WHERE a.state <> 'active' OR a.wait_event = 'ClientWrite'`, [cut.map(([, w]) => w.pid), cut.map(([, w]) => w.backendStart)]);
        }
      } catch (err) {
        this.onError(err as Error);
      } finally {
        void probe.end().catch(() => {});
      }
    } else {
      // end() would wait for the server's goodbye, which a silent path never sends.
      internals(probe).connection.stream.destroy();
    }
    for (const [client, watched] of cut) {
      if (this.clients.get(client) !== watched) continue;
      this.unwatch(client);
      internals(client).connection.stream.destroy(new Error(`no answer from PostgreSQL in ${this.timeoutMs} ms, and its backend runs no statement for it: the connection is dropped`));
    }
  }
}
