// One server for bench/api.ts to load, in its own process so that it gets a core of its own:
//   node dist/bench/api-target.js bare|fusion [storeUrl]
// Prints "READY <port>" once listening. On each "CPU" line on stdin it answers "CPU <µs>": the user + system
// CPU time this process has used (process.cpuUsage), so the bench can charge the server alone per request.
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { Fusion } from '../src/fusion.js';
import { buildServer } from '../src/api/server.js';
import { parseKeys } from '../src/api/auth.js';

import { BENCH_KEY } from './api-key.js';
import { dropRedisPrefix } from './shared.js';

function answerCpuQueries(): void {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === 'CPU') {
        const u = process.cpuUsage();
        process.stdout.write(`CPU ${u.user + u.system}\n`);
      }
    }
  });
  // The bench going away (stdin closed) must not leave a server behind.
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
}

async function main(): Promise<void> {
  const [mode, storeUrl] = process.argv.slice(2);
  answerCpuQueries();
  if (mode === 'bare') {
    // The floor: Fastify parsing a JSON body and answering JSON, no validation, no store.
    const app = Fastify({ logger: false });
    app.post('/v1/jobs', async (req, reply) => reply.code(201).send({ id: randomUUID(), task: (req.body as { task?: string })?.task }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    process.stdout.write(`READY ${(app.server.address() as { port: number }).port}\n`);
    // An orderly exit, so that --cpu-prof writes its profile when the bench stops the server.
    process.on('SIGTERM', () => process.exit(0));
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
