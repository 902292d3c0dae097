// Connections that go silent: no close, no error, no bytes (a NAT or firewall that forgot the path,
// a failover that moved the server's address). A real TCP proxy on loopback stands between the
// stores and the shared PostgreSQL and blackholes every connection open through it; connections made
// afterwards pass. A wait past socketTimeout is looked into (silence.ts): a statement the server still
// runs is left alone, a connection whose backend runs nothing is dropped.
import { describe, it } from 'node:test';
import pg from 'pg';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { parsePostgresUrl } from '../../src/stores/postgres/connect.js';
import { DEFAULT_SOCKET_TIMEOUT_MS } from '../../src/stores/url.js';
import { Queue } from '../../src/core/queue.js';
import { isUnavailable } from '../../src/core/store-errors.js';
import { PG_URL, dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { proxyTo, type BlackholeProxy } from '../helpers/blackhole-proxy.js';
import { until, within } from '../helpers/await.js';
import { keyedWorker, stopAndCloseWithin } from '../helpers/engine.js';

const skip = await pgSkip();
const SOCKET_TIMEOUT_MS = 400;

/** The test database's URL through the proxy, on `schema`. */
function proxiedUrl(proxy: BlackholeProxy, schema: string): string {
  const u = new URL(schemaUrl(schema, `&socketTimeout=${SOCKET_TIMEOUT_MS}`));
  u.host = `127.0.0.1:${proxy.port}`;
  return u.toString();
}

describe('PostgreSQL connections that go silent', { skip }, () => {
  it('drops them: a call on one fails fast, the next goes through, and an idle worker gets the next job', async () => {
    const proxy = await proxyTo(PG_URL, 5432);
    const schema = testSchema();
    const producer = await PostgresStore.open(proxiedUrl(proxy, schema));
    const consumer = await PostgresStore.open(proxiedUrl(proxy, schema));
    // Not through the proxy: adds the blackhole cannot touch, and events it cannot hide.
    const direct = await PostgresStore.open(schemaUrl(schema));
    // A poll once a minute: the job after the blackhole starts within the bound only through a
    // notification on the worker's new LISTEN connection (or its resync).
    const { worker, ran } = keyedWorker(consumer, 'silent');
    try {
      await consumer.listening();
      let started = ran('before');
      await new Queue(producer).enqueue({ task: 't', queue: 'silent', payload: { key: 'before' } });
      await within(started, 5000, 'the job before the blackhole');

      assert.ok(proxy.blackhole() >= 2, 'the idle pool connection of the producer and the LISTEN connection of the consumer went silent');
      // The producer's pooled connection is silent: its add fails once the server says that backend
      // runs nothing (it never got the statement), not ~15 minutes later.
      const t0 = performance.now();
      // As unavailable (the API answers 503), not as a fault of the job.
      await assert.rejects(within(new Queue(producer).enqueue({ id: 'on-silent', task: 't', queue: 'silent', payload: { key: 'on-silent' } }), 5000,
        'the add on a silent connection'), (err: Error) => isUnavailable(err) && !err.message.startsWith('timed out after'));
      assert.ok(performance.now() - t0 >= SOCKET_TIMEOUT_MS * 0.9, 'it waited out the socket timeout first');
      assert.equal(await direct.getJob({ id: 'on-silent' }), null, 'the add never reached the server');
      // Its next call goes through on a new connection.
      await within(new Queue(producer).enqueue({ id: 'after', task: 't', queue: 'silent', payload: { key: 'after' } }), 5000, 'the add after');
      // The LISTEN connection owed nothing: only its SELECT 1 finds it silent, and it is made again.
      // The job reaches the idle worker by a notification on the new one or by its resync.
      started = ran('next');
      await new Queue(direct).enqueue({ id: 'next', task: 't', queue: 'silent', payload: { key: 'next' } });
      await within(started, 5000, 'the job added after the blackhole started');
      // Stopping and closing over silent connections: pg's polite end waits for a goodbye that never
      // comes, so past the socket timeout (at least a second) the sockets are destroyed.
      assert.ok(proxy.blackhole() >= 2);
      await stopAndCloseWithin(worker, [producer, consumer], 8000);
    } finally {
      await worker.stop(1000);
      await Promise.all([producer.close(), consumer.close(), direct.close()]);
      await dropSchema(schema);
      await proxy.close();
    }
  });

  it("drops a transaction's connection without ending the process, and ends its backend, freeing its locks", async () => {
    const proxy = await proxyTo(PG_URL, 5432);
    const schema = testSchema();
    const store = await PostgresStore.open(proxiedUrl(proxy, schema));
    const direct = await PostgresStore.open(schemaUrl(schema));
    try {
      await new Queue(direct).enqueue({ id: 'locked', task: 't', queue: 'q', payload: null });
      // Checked out of the pool, as the store's transactions are: pg-pool keeps no error listener on it.
      const client = await store.pool.connect();
      const pid = (client as unknown as { processID: number }).processID;
      try {
        await client.query('BEGIN');
        await client.query(`SELECT 1 FROM ${schema}.jobs WHERE id = 'locked' FOR UPDATE`);
        proxy.blackhole();
        await assert.rejects(within(client.query('SELECT 2'), 5000, 'the statement on a silent connection'),
          (err: Error) => isUnavailable(err) && !err.message.startsWith('timed out after'));
      } finally {
        client.release(true);
      }
      // Its backend, idle in its transaction and holding the row, was ended by the watch before the
      // call failed (the server's own idle_in_transaction_session_timeout, six socket timeouts, would
      // come about 2 s later): gone within a second, and the row is free.
      await until(async () => (await direct.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 1000,
        'the backend ended by the watch', 20);
      const other = await direct.pool.connect();
      try {
        await other.query('BEGIN');
        await other.query(`SET LOCAL lock_timeout = '20s'`);
        const t0 = performance.now();
        const locked = await other.query(`SELECT 1 FROM ${schema}.jobs WHERE id = 'locked' FOR UPDATE`);
        assert.equal(locked.rowCount, 1);
        assert.ok(performance.now() - t0 < 15_000, 'the row was freed by the server ending the backend');
        await other.query('ROLLBACK');
      } finally {
        other.release();
      }
    } finally {
      await Promise.all([store.close(), direct.close()]);
      await dropSchema(schema);
      await proxy.close();
    }
  });

  it('leaves a long statement alone: the server says it still runs', async () => {
    const proxy = await proxyTo(PG_URL, 5432);
    const schema = testSchema();
    const store = await PostgresStore.open(proxiedUrl(proxy, schema));
    try {
      const t0 = performance.now();
      // Four socket timeouts of silence from a live server: each look finds the backend active.
      const { rows } = await store.pool.query<{ one: number }>(`SELECT 1 AS one FROM pg_sleep(${(SOCKET_TIMEOUT_MS * 4) / 1000})`);
      assert.equal(rows[0]!.one, 1);
      assert.ok(performance.now() - t0 >= SOCKET_TIMEOUT_MS * 4 * 0.9);
    } finally {
      await store.close();
      await dropSchema(schema);
      await proxy.close();
    }
  });

  it("asks the server to probe its sessions' clients, so a backend whose client went silent while idle ends", async () => {
    // Not testable by silence on loopback: the proxy's own socket answers the server's probes. What
    // is tested is that every session of the store, the pool's and the LISTEN one, carries them.
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema, '&socketTimeout=3000'));
    const off = store.subscribe(() => {});
    const unwatched = await PostgresStore.open(schemaUrl(schema, '&socketTimeout=0'));
    const show = 'SELECT current_setting(\'tcp_keepalives_idle\') AS idle, current_setting(\'tcp_keepalives_interval\') AS interval, current_setting(\'tcp_keepalives_count\') AS count';
    try {
      const { rows } = await store.pool.query(show);
      assert.deepEqual(rows[0], { idle: '3', interval: '1', count: '3' });
      const listener = (store as unknown as { ctx: { listener: { ready: Promise<void>; client: pg.Client | null } } }).ctx.listener!;
      await listener.ready;
      const listened = await listener.client!.query(show);
      assert.deepEqual(listened.rows[0], { idle: '3', interval: '1', count: '3' });
      // With the watch off, what any session gets (the system's, on this machine 7200 s, 75 s and 9).
      const bare = new pg.Client({ connectionString: PG_URL });
      await bare.connect();
      const defaults = (await bare.query(show).finally(() => bare.end())).rows[0];
      assert.notDeepEqual(defaults, { idle: '3', interval: '1', count: '3' });
      assert.deepEqual((await unwatched.pool.query(show)).rows[0], defaults);
    } finally {
      off();
      await Promise.all([store.close(), unwatched.close()]);
      await dropSchema(schema);
    }
  });

  it("keeps its guards when the URL carries ?options= of its own: both apply, on the pool's sessions and the LISTEN one", async () => {
    // A URL with libpq's options (a search_path, a statement_timeout, a cloud endpoint id) replaced
    // the store's own -c settings: sessions lost the keepalive probes, the idle-in-transaction limit
    // and jit=off, silently.
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema, `&socketTimeout=3000&options=${encodeURIComponent('-c statement_timeout=123456')}`));
    const off = store.subscribe(() => {});
    const show = `SELECT current_setting('statement_timeout') AS statement, current_setting('tcp_keepalives_idle') AS idle,
      current_setting('idle_in_transaction_session_timeout') AS "inTransaction", current_setting('jit') AS jit`;
    const want = { statement: '123456ms', idle: '3', inTransaction: '18s', jit: 'off' };
    try {
      assert.deepEqual((await store.pool.query(show)).rows[0], want);
      const listener = (store as unknown as { ctx: { listener: { ready: Promise<void>; client: pg.Client | null } } }).ctx.listener!;
      await listener.ready;
      const { statement, idle } = (await listener.client!.query(show)).rows[0];
      assert.deepEqual({ statement, idle }, { statement: want.statement, idle: want.idle });
    } finally {
      off();
      await store.close();
      await dropSchema(schema);
    }
  });

  it('reads socketTimeout from the URL: 10 s by default, 0 for never, anything else refused', () => {
    assert.equal(parsePostgresUrl('postgres://u@127.0.0.1/db').socketTimeoutMs, DEFAULT_SOCKET_TIMEOUT_MS);
    const parsed = parsePostgresUrl('postgres://u@127.0.0.1/db?schema=s&socketTimeout=2500');
    assert.equal(parsed.socketTimeoutMs, 2500);
    assert.equal(new URL(parsed.connectionString).searchParams.has('socketTimeout'), false, 'pg does not see it');
    assert.equal(parsePostgresUrl('postgres://u@127.0.0.1/db?socketTimeout=0').socketTimeoutMs, 0);
    for (const bad of ['-1', '1.5', 'soon', '', '3600001']) {
      assert.throws(() => parsePostgresUrl(`postgres://u@127.0.0.1/db?socketTimeout=${bad}`), (err: Error & { code?: string }) =>
        err.code === 'invalid_store' && /socketTimeout/.test(err.message));
    }
  });
});
