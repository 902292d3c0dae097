// Soak: a steady load through a real `fusion server` into worker processes with real delivery (the
// webhook channel to a loopback receiver, through the outgoing guard) and short retention. Memory of
// the API and the workers is sampled: it settles (no growth trend: the last third's mean against the
// middle third's), the store stays bounded by retention (the jobs rows of SQLite and PostgreSQL, the
// Redis keys under the prefix; the SQLite file, which never shrinks, under an absolute bound), every
// job ran, every webhook arrived.
// Short form: 25 s at 100 jobs/s; long form (CHAOS=full): ten minutes at 1,000 jobs/s.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { pgClient } from '../helpers/postgres.js';
import { until } from '../helpers/await.js';
import { STORES, apiServer, chaosWorker, countsOf, executions, fileMb, growth, report, rssMb, size, sleep, type Proc } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));

STORES.forEach((factory, i) => {
  describe(`chaos: soak on ${factory.name}`, { skip: skips[i] }, () => {
    it('steady load with real delivery: memory settles, the store stays bounded, nothing lost', async () => {
      const DURATION = size(20_000, 600_000);
      const RATE = size(100, 1000);
      const TICK = 100;
      const PER_TICK = Math.round((RATE * TICK) / 1000);
      const t = await factory.create();
      const hooks = new Set<string>();
      let hookHits = 0;
      const receiver = createServer((req, res) => {
        hookHits++;
        hooks.add(new URL(req.url!, 'http://x').searchParams.get('k')!);
        req.resume();
        req.on('end', () => res.writeHead(200).end('ok'));
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const hookBase = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const api = await apiServer(t, port);
      const workers: Proc[] = [];
      for (let k = 0; k < 2; k++) workers.push(chaosWorker({ url: t.url, logDir: t.dir, concurrency: 16, leaseMs: 10_000, webhook: true, retentionMs: 2000, maintenanceMs: 500 }));
      try {
        await Promise.all(workers.map((p) => p.line('READY')));
        const samples = { api: [] as number[], workers: [] as number[], file: [] as number[], keys: [] as number[], rows: [] as number[] };
        // Redis: the keys under this test's prefix (the shared server's memory is other tests' too).
        const redis = t.prefix ? new Redis(t.url.split('?')[0]!) : null;
        const countKeys = async () => {
          let n = 0;
          let cursor = '0';
          do {
            const [next, keys] = await redis!.scan(cursor, 'MATCH', `{${t.prefix}*`, 'COUNT', 5000);
            cursor = next;
            n += keys.length;
          } while (cursor !== '0');
          return n;
        };
        // PostgreSQL: the rows of this test's jobs table (its schema's own).
        const pgc = t.schema ? await pgClient() : null;
        const countRows = async () => (await pgc!.query(`SELECT count(*)::int AS n FROM "${t.schema}".jobs`)).rows[0].n as number;
        // And the table's dead tuples and size on disk (heap, indexes, TOAST): autovacuum keeps up.
        const pgTable = { deadMax: 0, mbMax: 0, mbEnd: 0, autovacuums: 0 };
        const sampleTable = async () => {
          const { rows } = await pgc!.query(
            `SELECT n_dead_tup::int AS dead, autovacuum_count::int AS vacuums, pg_total_relation_size(relid)::float8 / 1048576 AS mb
             FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`, [t.schema]);
          const r = rows[0] as { dead: number; vacuums: number; mb: number } | undefined;
          if (!r) return;
          pgTable.deadMax = Math.max(pgTable.deadMax, r.dead);
          pgTable.mbMax = Math.max(pgTable.mbMax, r.mb);
          pgTable.mbEnd = r.mb;
          pgTable.autovacuums = r.vacuums;
        };
        // SQLite: the rows of the jobs table, read on a read-only connection of the test's own. The file
        // only grows (freed pages are reused, not returned), so a moment's backlog raises it for good:
        // its trend says nothing of retention, its size gets an absolute bound instead.
        const sqlite: { reader?: Database.Database } = {};
        const countSqliteRows = () => {
          sqlite.reader ??= new Database(join(t.dir, 'fusion.db'), { readonly: true, fileMustExist: true });
          return (sqlite.reader.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
        };
        let sampling: Promise<void> | null = null;
        const chaosIds = new Set<string>();
        const hookIds = new Set<string>();
        let n = 0;
        let non2xx = 0;
        let errors = 0;
        let lateTicks = 0;
        const started = Date.now();
        let nextSample = started;
        const inflight = new Set<Promise<void>>();
        for (let tick = 0; Date.now() - started < DURATION; tick++) {
          const due = started + tick * TICK;
          if (Date.now() > due + TICK) lateTicks++;
          else await sleep(Math.max(0, due - Date.now()));
          // One bulk request per tick: 4 of 5 jobs a plain task, 1 of 5 a webhook to the receiver.
          const jobs = Array.from({ length: PER_TICK }, () => {
            const k = n++;
            return k % 5 === 4
              ? { id: `w-${k}`, task: 'webhook', payload: { url: `${hookBase}?k=${k}` } }
              : { id: `s-${k}`, task: 'chaos', queue: 'chaos', payload: { k } };
          });
          const p = fetch(`${base}/v1/jobs/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs }) })
            .then(async (r) => {
              await r.arrayBuffer();
              if (r.status !== 201) non2xx++;
              else for (const j of jobs) (j.task === 'webhook' ? hookIds.add(j.payload.url!.split('k=')[1]!) : chaosIds.add(j.id));
            })
            .catch(() => void errors++)
            .finally(() => inflight.delete(p));
          inflight.add(p);
          if (Date.now() >= nextSample) {
            nextSample += 1000;
            samples.api.push(rssMb(api.pid) ?? 0);
            samples.workers.push(workers.reduce((s, w) => s + (rssMb(w.pid) ?? 0), 0));
            if (t.store === 'sqlite') {
              samples.file.push(fileMb(join(t.dir, 'fusion.db')));
              samples.rows.push(countSqliteRows());
            }
            if (redis && !sampling) sampling = countKeys().then((n) => void samples.keys.push(n)).finally(() => (sampling = null));
            if (pgc && !sampling) sampling = countRows().then((n) => void samples.rows.push(n)).then(sampleTable).finally(() => (sampling = null));
          }
        }
        await Promise.all(inflight);
        await sampling;
        redis?.disconnect();
        await pgc?.end();
        sqlite.reader?.close();
        const loadMs = Date.now() - started;
        const store = await t.open();
        try {
          await until(async () => {
            const c = await countsOf(store);
            return c.queued + c.active + c.scheduled === 0 && [...hookIds].every((k) => hooks.has(k));
          }, size(60_000, 300_000), 'the backlog drained and every webhook arrived', 250);
          const c = await countsOf(store, 'webhook');
          assert.equal(c.failed, 0, 'no webhook failed');
        } finally {
          await store.close();
        }
        const execs = executions(t.dir);
        const notRun = [...chaosIds].filter((id) => !execs.has(id)).length;
        const duplicateExecutions = [...execs.values()].reduce((s, x) => s + x - 1, 0);
        const g = { api: growth(samples.api), workers: growth(samples.workers), redisKeys: samples.keys.length ? growth(samples.keys) : null, jobsRows: samples.rows.length ? growth(samples.rows) : null };
        report({
          test: 'soak', store: t.store, seconds: Math.round(loadMs / 1000), targetRate: RATE, rate: Math.round((chaosIds.size + hookIds.size) / (loadMs / 1000)),
          jobs: n, acknowledged: chaosIds.size + hookIds.size, completed: chaosIds.size - notRun + hookIds.size, lost: notRun, webhooksDelivered: hooks.size, webhookHits: hookHits,
          duplicateExecutions, non2xx, requestErrors: errors, lateTicks,
          rssStartMb: { api: samples.api[0], workers: samples.workers[0] }, rssEndMb: { api: samples.api.at(-1), workers: samples.workers.at(-1) },
          growth: g, fileMb: samples.file.length ? { max: Math.max(...samples.file), end: samples.file.at(-1) } : undefined,
          jobsRows: samples.rows.length ? { max: Math.max(...samples.rows), end: samples.rows.at(-1) } : undefined,
          redisKeys: samples.keys.length ? { max: Math.max(...samples.keys), end: samples.keys.at(-1) } : undefined,
          pgTable: pgc ? { ...pgTable, mbMax: Math.round(pgTable.mbMax * 10) / 10, mbEnd: Math.round(pgTable.mbEnd * 10) / 10 } : undefined,
        });
        assert.equal(non2xx + errors, 0, 'every request accepted');
        assert.equal(notRun, 0, 'every accepted job ran');
        const tol = size(1.5, 1.2);
        assert.ok(g.api < tol, `API RSS grew ${g.api.toFixed(2)}x from the middle third to the last (samples ${samples.api.join(',')})`);
        assert.ok(g.workers < tol, `workers' RSS grew ${g.workers.toFixed(2)}x (samples ${samples.workers.join(',')})`);
        // Retention (2 s) keeps the jobs table to a few seconds of jobs (SQLite, PostgreSQL) and the
        // prefix's keys likewise (Redis): no trend. The SQLite file stays small in absolute terms.
        if (g.jobsRows !== null) assert.ok(g.jobsRows < 1.5, `${t.store} jobs rows grew ${g.jobsRows.toFixed(2)}x (samples ${samples.rows.join(',')})`);
        if (g.redisKeys !== null) assert.ok(g.redisKeys < 1.5, `Redis keys under the prefix grew ${g.redisKeys.toFixed(2)}x (samples ${samples.keys.join(',')})`);
        if (samples.file.length) assert.ok(Math.max(...samples.file) < size(200, 500), `SQLite file ${Math.max(...samples.file)} MB`);
        if (pgc) assert.ok(pgTable.mbMax > 0 && pgTable.mbMax < size(200, 500), `PostgreSQL jobs table ${pgTable.mbMax} MB at most`);
        for (const w of workers) assert.equal((await w.term()).code, 0);
        assert.equal((await api.term()).code, 0);
      } finally {
        await Promise.all([...workers, api].map((p) => p.kill9()));
        receiver.closeAllConnections();
        await new Promise((r) => receiver.close(r));
        await t.cleanup();
      }
    });
  });
});
