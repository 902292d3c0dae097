// Connections whose path went silent: no close, no error, no bytes (a NAT or firewall that forgot
// the path, a failover that moved the server's address). TCP would take ~15 minutes to give up on
// them. Unlike Redis (stores/redis/connect.ts: watchSilence), a long silence proves nothing here: a
// statement may run for minutes and send nothing meanwhile. So a connection that has waited on one
// statement for socketTimeoutMs, with no byte come in, is looked up from a new connection in the
// server's own view of its backends (pg_stat_activity, by pid): if that backend is running a
// statement, the wait goes on; if it is idle (it answered, and the answer was lost), waits on us
// (a statement that arrived only in part, or an answer it cannot send), is gone (or this is another
// server, after a failover), or if the server cannot be reached at all, the connection is destroyed.
// Its call fails as unavailable and the pool opens a new connection for the next. Its backend,
// which no longer has a client but does not know it (a silent path carries no close), is ended if it
// is still there and runs nothing: found by pid and by the store's application_name, so that a pid
// another server (after a failover) gave to someone else's session is left alone. Left to the server,
// such backends would pile up until its TCP keepalive (hours) and use up max_connections; one left
// idle inside a transaction is also ended by the server itself (idleInTransactionMs).
import pg from 'pg';
import { TYPES } from './connect.js';

/** What this reads of a pg Client beyond its typings (pg 8): the statement it waits on, its backend, its socket. */
interface ClientInternals {
  _activeQuery: object | null;
  processID: number | null;
  connection: { stream: { destroy(err?: Error): void; bytesRead: number } };
}

const internals = (client: pg.ClientBase) => client as unknown as ClientInternals;

/** A watched connection, and what it was last seen waiting on. */
interface Watched {
  /** A SELECT 1 when idle: the LISTEN connection, which otherwise owes nothing. */
  pingWhenIdle: boolean;
  statement: object | null;
  bytesRead: number;
  since: number;
}

/** The probe's own timeouts: a slow server is not a dead path, so it gets at least this long. */
const PROBE_TIMEOUT_FLOOR_MS = 5000;

export class SilenceWatch {
  private readonly clients = new Map<pg.ClientBase, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  /** applicationName: the store's connections' (every backend this ends carries it). */
  constructor(private readonly connectionString: string, private readonly applicationName: string, private readonly timeoutMs: number,
              private readonly onError: (err: Error) => void) {
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => void this.check(), Math.max(25, timeoutMs / 2));
    this.timer.unref();
    void this.checkBackendPids();
  }

  /** Connect timeout for the store's connections (0: none): a blackholed address would hold a connect for minutes. */
  get connectTimeoutMs(): number {
    return this.timeoutMs > 0 ? Math.max(this.timeoutMs, PROBE_TIMEOUT_FLOOR_MS) : 0;
  }

  /**
   * How long the server lets a session of the pool sit idle inside a transaction (0: no limit). The
   * store's transactions send their statements back to back, so one idle this long lost its client:
   * ended by the server, its locks go with it.
   */
  get idleInTransactionMs(): number {
    return this.timeoutMs * 6;
  }

  /**
   * The server's TCP keepalive for the store's sessions, as `-c` options (none with the watch off): a
   * connection idle in the pool when its path went silent owes nothing, so this watch never looks at
   * it, and its backend would wait for the system's keepalive (two hours by default) holding a slot
   * of max_connections. Probes after a timeout of quiet, three a third of a timeout apart: such a
   * backend ends about two timeouts after the path went silent. Whole seconds (PostgreSQL's unit
   * here); ignored on Unix-domain sockets.
   */
  get serverKeepaliveOptions(): string {
    if (this.timeoutMs <= 0) return '';
    const idle = Math.max(1, Math.round(this.timeoutMs / 1000));
    const interval = Math.max(1, Math.round(this.timeoutMs / 3000));
    return `-c tcp_keepalives_idle=${idle} -c tcp_keepalives_interval=${interval} -c tcp_keepalives_count=3`;
  }

  /**
   * End a connection, politely if its path answers: pg's end() waits for the server's goodbye, which
   * a silent path never sends, so past the socket timeout (at least a second) the socket is destroyed.
   * With the watch off, end() is awaited as it is.
   */
  async end(client: pg.ClientBase & { end(): Promise<void> }): Promise<void> {
    await this.endWithin(client.end().catch(() => {}), [client]);
  }

  /** End a pool as end() does a connection: `clients` are its connections, whose sockets a late end destroys. */
  async endPool(pool: pg.Pool, clients: Iterable<pg.ClientBase>): Promise<void> {
    await this.endWithin(pool.end(), clients);
  }

  private async endWithin(ended: Promise<void>, clients: Iterable<pg.ClientBase>): Promise<void> {
    if (this.timeoutMs <= 0) return ended;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([ended.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.max(1000, this.timeoutMs))))]);
    clearTimeout(timer);
    if (late) for (const client of clients) internals(client).connection.stream.destroy();
    await ended;
  }

  /** Watch a connection until it is unwatched (the pool removed it, or its owner closed it). */
  watch(client: pg.ClientBase, pingWhenIdle = false): void {
    if (!this.timer) return;
    // A destroyed connection errors; a checked-out pg client has no other listener, and an error
    // without one would end the process. The pending call rejects on its own.
    client.on('error', (err: Error) => this.onError(err));
    this.clients.set(client, { pingWhenIdle, statement: null, bytesRead: 0, since: 0 });
  }

  unwatch(client: pg.ClientBase): void {
    this.clients.delete(client);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clients.clear();
  }

  /**
   * Behind PgBouncer, RDS Proxy and the like a connection's pid is the pooler's, not its backend's:
   * the server's view could not tell its statements apart, so the watch stops. Asked once, on a
   * connection of its own (a statement put ahead of a pooled connection's first would queue that one).
   */
  private async checkBackendPids(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, types: TYPES, connectionTimeoutMillis: this.connectTimeoutMs });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (rows[0]?.pid !== internals(client).processID) {
        this.close();
        this.onError(new Error('connection pids are not backend pids (a pooler between): silent connections are left to TCP'));
      }
      await client.end();
    } catch {
      internals(client).connection.stream.destroy();
    }
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = performance.now();
      const suspects: [pg.ClientBase, Watched, object][] = [];
      for (const [client, watched] of this.clients) {
        const statement = internals(client)._activeQuery;
        const bytesRead = internals(client).connection.stream.bytesRead;
        if (!statement) {
          watched.statement = null;
          if (watched.pingWhenIdle) client.query('SELECT 1').catch(() => {});
        } else if (statement !== watched.statement || bytesRead !== watched.bytesRead) {
          // A new statement, or an answer coming in (a big result): alive.
          watched.statement = statement;
          watched.bytesRead = bytesRead;
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
    const running = new Set<number>();
    let reached = true;
    try {
      await probe.connect();
    } catch (err) {
      internals(probe).connection.stream.destroy();
      this.onError(err as Error);
      // The server answered, with an error of its own (too many connections, starting up): it is
      // reachable, so this says nothing of the suspects. Only a path that fails cuts them.
      if (err instanceof pg.DatabaseError) return;
      reached = false;
    }
    if (!reached) {
      for (const [client, watched, statement] of suspects) this.cut(client, watched, statement);
      return;
    }
    try {
      // Running a statement: active, and not waiting on us (the rest of a statement, or room to answer).
      const { rows } = await probe.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Client'`,
        [suspects.map(([client]) => internals(client).processID ?? 0)]);
      for (const r of rows) running.add(r.pid);
      const cut = suspects.filter(([client, watched, statement]) => !running.has(internals(client).processID ?? 0) && this.answered(client, watched, statement) === false);
      // The backends first: when the calls fail, the locks they held are on their way out.
      if (cut.length > 0) {
        await probe.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE pid = ANY($1) AND application_name = $2 AND (state <> 'active' OR wait_event_type = 'Client')`,
          [cut.map(([client]) => internals(client).processID ?? 0), this.applicationName]);
      }
      for (const [client, watched, statement] of cut) this.cut(client, watched, statement);
    } catch (err) {
      // Reached, but no answer in time: an overloaded server, which says nothing of the suspects.
      this.onError(err as Error);
      internals(probe).connection.stream.destroy();
      return;
    }
    void probe.end().catch(() => {});
  }

  /** Whether a suspect was answered meanwhile (a loop stall held the answer back, or it just finished). */
  private answered(client: pg.ClientBase, watched: Watched, statement: object): boolean {
    return this.clients.get(client) !== watched || internals(client)._activeQuery !== statement;
  }

  /** Destroy a suspect's connection, unless it was answered meanwhile. */
  private cut(client: pg.ClientBase, watched: Watched, statement: object): void {
    if (this.answered(client, watched, statement)) return;
    this.unwatch(client);
    internals(client).connection.stream.destroy(new Error(`no answer from PostgreSQL in ${this.timeoutMs} ms, and its backend runs no statement for it: the connection is dropped`));
  }
}
