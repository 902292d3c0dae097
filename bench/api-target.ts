// One server for bench/api.ts to load, in its own process so that it gets a core of its own:
//   node dist/bench/api-target.js bare|fusion [storeUrl]
// Prints "READY <port>" once listening.
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { Fusion } from '../src/fusion.js';
import { buildServer } from '../src/api/server.js';
import { parseKeys } from '../src/api/auth.js';

import { BENCH_KEY } from './api-key.js';
import { dropRedisPrefix } from './shared.js';

async function main(): Promise<void> {
  const [mode, storeUrl] = process.argv.slice(2);
  if (mode === 'bare') {
    // The floor: Fastify parsing a JSON body and answering JSON, no validation, no store.
    const app = Fastify({ logger: false });
    app.post('/v1/jobs', async (req, reply) => reply.code(201).send({ id: randomUUID(), task: (req.body as { task?: string })?.task }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    process.stdout.write(`READY ${(app.server.address() as { port: number }).port}\n`);
    return;
  }
  if (mode !== 'fusion' || !storeUrl) throw new Error('usage: api-target bare | fusion STORE_URL');
  // Redis: a key prefix of its own, removed on exit; the Redis may be shared.
  const prefix = `bench-api-${process.pid}`;
  const isRedis = /^rediss?:\/\//.test(storeUrl);
  const fusion = await Fusion.open({ store: storeUrl, storeOptions: isRedis ? { prefix } : {} });
  const app = await buildServer({ fusion, apiKeys: parseKeys(`${BENCH_KEY}:send`), processMetrics: false, groupCommit: process.env.FUSION_GROUP_COMMIT !== '0' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`READY ${(app.server.address() as { port: number }).port}\n`);
  process.on('SIGTERM', () => {
    void app.close().then(() => fusion.close(100)).then(() => (isRedis ? dropRedisPrefix(storeUrl, prefix) : undefined)).then(() => process.exit(0));
  });
}

main().catch((e) => {
  process.stderr.write(`api-target: ${(e as Error).message}\n`);
  process.exit(1);
});
