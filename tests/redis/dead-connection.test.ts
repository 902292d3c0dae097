// Connections that go silent: no close, no error, no bytes (a NAT or firewall that forgot the path,
// a failover that moved the server's address). TCP would take ~15 minutes to give up on them; the
// store drops such a connection after its socket timeout and carries on over a new one. Here a real
// TCP proxy on loopback stands between the stores and the shared Redis and blackholes every
// connection open through it; connections made afterwards pass (or, in one test, are silent from
// their first byte, as a path lost during the handshake).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Queue } from '../../src/core/queue.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { DEFAULT_SOCKET_TIMEOUT_MS } from '../../src/stores/url.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { proxyTo } from '../helpers/blackhole-proxy.js';
import { deferred, within } from '../helpers/await.js';
import { keyedWorker, stopAndCloseWithin } from '../helpers/engine.js';

const skip = await redisSkip();
const SOCKET_TIMEOUT_MS = 400;

describe('Redis connections that go silent', { skip }, () => {
  it('replaces them: an add in the air completes, and an idle worker gets the next job', async () => {
    const proxy = await proxyTo(REDIS_URL, 6379);
    const url = `redis://127.0.0.1:${proxy.port}?socketTimeout=${SOCKET_TIMEOUT_MS}`;
    const prefix = testPrefix();
    const producer = new RedisStore(parseRedisUrl(url), { prefix });
    const consumer = new RedisStore(parseRedisUrl(url), { prefix });
    const admin = new Redis(REDIS_URL);
    // A poll once a minute: a job below starts within the bounds only through a message or a claim
    // after the worker's connections were replaced.
    const { worker, ran } = keyedWorker(consumer, 'silent');
    const q = new Queue(producer);
    const expected = ['silenced-0', 'replaced-0', 'silenced-1', 'replaced-1'];
    const completed = new Map<string, number>();
    const allCompleted = deferred();
    // Seen on a connection of its own that no blackhole touches: events published while a
    // subscriber is silent are gone for it (pub/sub keeps nothing).
    const observer = new RedisStore(parseRedisUrl(REDIS_URL), { prefix });
    const off = observer.subscribe((e) => {
      if (e.type === 'completed' && e.jobId) completed.set(e.jobId, (completed.get(e.jobId) ?? 0) + 1);
      if (expected.every((id) => completed.has(id))) allCompleted.resolve();
    });
    try {
      let started = ran('before');
      await q.enqueue({ task: 't', queue: 'silent', payload: { key: 'before' } });
      await within(started, 5000, 'the job before the blackhole');
      for (let round = 0; round < 2; round++) {
        const acceptedBefore = proxy.accepted;
        const silenced = proxy.blackhole();
        assert.ok(silenced >= 3, `${silenced} connections silenced (the producer's commands, the worker's commands and events)`);
        // An add goes out on a silent connection: it completes once the store has dropped that one.
        const first = `silenced-${round}`;
        started = ran(first);
        const t0 = performance.now();
        // In the second round more calls follow it every 50 ms, as on a busy API process: each is written
        // to the silent connection, and none may count as life.
        const chatter = round === 1 ? setInterval(() => void producer.getJob({ id: 'none' }).catch(() => {}), 50) : undefined;
        try {
          await within(q.enqueue({ id: first, task: 't', queue: 'silent', payload: { key: first } }), 5000, `the add on a silent connection, round ${round}`);
        } finally {
          clearInterval(chatter);
        }
        const addMs = performance.now() - t0;
        assert.ok(addMs >= SOCKET_TIMEOUT_MS * 0.9, `the add waited out the socket timeout (${addMs.toFixed(0)} ms): it met a silent connection`);
        await within(started, 5000, `${first} started`);
        // The worker's event connection owes no answers: only the probe finds it silent, and replaces it.
        await within(proxy.accepting(acceptedBefore + 3), 5000, 'all three connections made again');
        // The worker is idle again: the next job reaches it as a message on its new event connection
        // (on the silent one it would wait for the minute's poll).
        const next = `replaced-${round}`;
        started = ran(next);
        await q.enqueue({ id: next, task: 't', queue: 'silent', payload: { key: next } });
        await within(started, 5000, `${next} started`);
      }
      await within(allCompleted.promise, 5000, 'every job completed');
      for (const id of expected) assert.equal((await producer.getJob({ id }))?.state, 'completed', id);
      for (const id of expected) assert.equal(completed.get(id), 1, `${id} completed once`);
      // Closing over silent connections: QUIT gets no answer, and the watch ends the wait.
      assert.ok(proxy.blackhole() >= 3);
      await stopAndCloseWithin(worker, [producer, consumer], 5000);
    } finally {
      off();
      await worker.stop(1000);
      await Promise.all([producer.close(), consumer.close(), observer.close()]);
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await proxy.close();
    }
  });

  it('drops a connection whose path goes silent during its handshake, and the next one carries the calls', async () => {
    const proxy = await proxyTo(REDIS_URL, 6379);
    const prefix = testPrefix();
    const store = new RedisStore(parseRedisUrl(`redis://127.0.0.1:${proxy.port}?socketTimeout=${SOCKET_TIMEOUT_MS}`), { prefix });
    const admin = new Redis(REDIS_URL);
    try {
      const q = new Queue(store);
      await q.enqueue({ id: 'before', task: 't', queue: 'handshake', payload: {} });
      // The open connection goes silent, and so does the next one from its first byte: it connects,
      // sends its handshake (CLIENT SETNAME, the ready check) and never hears back.
      const accepted = proxy.accepted;
      proxy.silenceNew = true;
      proxy.blackhole();
      const add = q.enqueue({ id: 'after', task: 't', queue: 'handshake', payload: {} });
      await within(proxy.accepting(accepted + 1), 5000, 'the silent connection dropped and another made');
      proxy.silenceNew = false;
      // Only a drop of the connection stuck in its handshake lets a third one carry the add.
      await within(add, 5000, 'the add, once the connection stuck in its handshake was dropped');
      assert.ok(proxy.accepted >= accepted + 2, `${proxy.accepted - accepted} connections made after the blackhole`);
      assert.equal((await admin.exists(`{${prefix}:handshake}:j:after`)), 1);
    } finally {
      await store.close();
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await proxy.close();
    }
  });

  it('reads socketTimeout from the URL: 10 s by default, 0 for never, anything else refused', () => {
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379').socketTimeoutMs, DEFAULT_SOCKET_TIMEOUT_MS);
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379/2?prefix=p&socketTimeout=2500').socketTimeoutMs, 2500);
    assert.equal(parseRedisUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001?socketTimeout=0').socketTimeoutMs, 0);
    for (const bad of ['-1', '1.5', 'soon', '', '3600001']) {
      assert.throws(() => parseRedisUrl(`redis://127.0.0.1:6379?socketTimeout=${bad}`), (err: Error & { code?: string }) =>
        err.code === 'invalid_store' && /socketTimeout/.test(err.message));
    }
    // ioredis reads a URL's query as its options: Fusion's own must not reach it (its socketTimeout
    // would put a timer on every call).
    const client = parseRedisUrl('redis://127.0.0.1:6379?prefix=p&socketTimeout=2500').create('probe');
    try {
      const options = client.options as Record<string, unknown>;
      assert.equal(options.socketTimeout, undefined);
      assert.equal(options.prefix, undefined);
    } finally {
      client.disconnect();
    }
  });
});
