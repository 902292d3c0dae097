// /v1/events when the store's event connection is lost (Redis pub/sub, PostgreSQL LISTEN): what the
// store published meanwhile never reaches this server, so a viewer, live or resuming with
// Last-Event-ID, must be told to reload (`event: reset`) rather than carry on as if nothing was missed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { SseClient } from '../helpers/sse.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { PG_URL, dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';

interface Case {
  name: string;
  skip(): Promise<string | false>;
  /** A store URL, a way to end its event connection, and a cleanup. */
  make(): Promise<{ url: string; cut(): Promise<void>; cleanup(): Promise<void> }>;
}

const CASES: Case[] = [
  {
    name: 'redis',
    skip: redisSkip,
    async make() {
      const prefix = testPrefix();
      const admin = new Redis(REDIS_URL);
      return {
        url: `${REDIS_URL}?prefix=${prefix}`,
        async cut() {
          const list = (await admin.client('LIST')) as string;
          const ids = list.split('\n').filter((l) => l.includes(`name=fusion:${prefix}:events`)).map((l) => /id=(\d+)/.exec(l)![1]!);
          assert.equal(ids.length, 1, 'one event connection');
          await admin.client('KILL', 'ID', ids[0]!);
        },
        async cleanup() {
          await dropPrefix(admin, prefix);
          admin.disconnect();
        },
      };
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    async make() {
      const schema = testSchema();
      const app = `fusion-gap-${schema}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      return {
        url: schemaUrl(schema, `&application_name=${app}`),
        async cut() {
          // Every connection of the store: the LISTEN one among them (the pool's are made again on use).
          const r = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app]);
          assert.ok(r.rows.length >= 1);
          for (const { pid } of r.rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        },
        async cleanup() {
          await admin.end();
          await dropSchema(schema);
        },
      };
    },
  },
];

for (const c of CASES) {
  const skip = await c.skip();
  describe(`/v1/events after the ${c.name} event connection is lost`, { skip }, () => {
    it('tells live and resuming viewers to reload (reset), and makes up no queue.resumed', async () => {
      const target = await c.make();
      const fusion = await Fusion.open({ store: target.url, events: { pollMs: 0 } });
      const app = await buildServer({ fusion, processMetrics: false });
      const clients: SseClient[] = [];
      try {
        await app.listen({ port: 0, host: '127.0.0.1' });
        const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events`;
        const live = await SseClient.open(base);
        clients.push(live);
        await live.until((v) => v.frames.some((f) => f.event === 'ready'));
        const a = await fusion.enqueue({ task: 't', queue: 'gapq' });
        await live.until((v) => v.events.some((e) => e.jobId === a.id), 10_000, 'the first job heard');
        const resumeFrom = live.lastId!;
        const before = live.frames.length;
        await target.cut();
        // The store subscribes again and wakes its workers; the viewer must hear that it missed events.
        await live.until((v) => v.frames.slice(before).some((f) => f.event === 'reset' || f.data.type === 'queue.resumed'), 15_000, 'the reconnect');
        const after = live.frames.slice(before);
        assert.ok(after.some((f) => f.event === 'reset' && f.data.reason === 'gap'), `a reset after the gap: ${JSON.stringify(after)}`);
        assert.ok(!after.some((f) => f.data.type === 'queue.resumed'), 'no queue was resumed');
        // A viewer that resumes from before the gap gets the reset too, not a clean replay.
        const resumed = await SseClient.open(base, { 'last-event-id': resumeFrom });
        clients.push(resumed);
        await resumed.until((v) => v.frames.some((f) => f.event === 'reset'), 10_000, 'the reset on resume');
        // Live events go on after it.
        const b = await fusion.enqueue({ task: 't', queue: 'gapq' });
        await live.until((v) => v.events.some((e) => e.jobId === b.id), 10_000, 'a job after the gap');
      } finally {
        for (const x of clients) x.close();
        await app.close();
        await fusion.close(200);
        await target.cleanup();
      }
    });
  });
}
