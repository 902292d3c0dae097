// The `fusion` command: start (all in one), server, worker, scheduler.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Fusion } from '../fusion.js';
import { buildServer } from '../api/server.js';
import { checkBind, keysFromEnv } from '../api/auth.js';
import { FileConsentStore } from '../api/consent.js';
import { createLogger } from '../logging.js';
import { DEFAULT_STORE_URL } from '../stores/index.js';
import type { Worker } from '../core/worker.js';
import { INSPECT_COMMANDS, INSPECT_HELP, runInspect } from './inspect.js';
import { whenDrained } from './burst.js';

const HELP = `fusion — a task hub: priority queues, workers, retries, schedules, HTTP API

Usage: fusion <command> [options]

Commands:
  start       everything in one process: API server, worker, maintenance, scheduler
  server      the HTTP API only
  worker      a worker only (plus lease recovery and retention)
  scheduler   the scheduler only: fires due schedules (any number may run on one store)

Options:
  --store URL          store URL (env FUSION_STORE; default ${DEFAULT_STORE_URL})
                       sqlite:PATH[?synchronous=FULL]   redis://HOST:PORT/DB
  --port N             HTTP port (env FUSION_PORT; default 8002)
  --host ADDR          HTTP bind address (env FUSION_HOST; default 127.0.0.1)
  --queues a,b,c       queues a worker serves, in order (default: every known queue)
  --concurrency N      jobs one worker runs at once (default 10)
  --burst              worker: exit once its queues hold nothing queued or running
  --lease-ms N         lease length in ms (default 30000)
  --grace-ms N         on SIGTERM/SIGINT, wait this long for running jobs (default 10000)
  --tasks FILE         a module whose default export, (fusion) => void, registers task
                       handlers (repeatable; env FUSION_TASKS, comma-separated)
  --log-level LEVEL    trace|debug|info|warn|error (env FUSION_LOG_LEVEL; default info)
  --api-keys-file FILE API keys with roles, JSON (env FUSION_API_KEYS_FILE); keys also come from
                       env FUSION_API_KEYS="KEY:admin,KEY2:send+read". Without any key the API
                       only binds to loopback; a public --host without keys is refused.
  --consent-file FILE  where WhatsApp consent (/update_consent/) is kept (env FUSION_CONSENT_FILE;
                       default ./data/consent.jsonl)
  -h, --help           this help

Signals: the first SIGTERM/SIGINT stops claiming, waits for running jobs up to --grace-ms,
gives back what still runs, and exits 0. A second one exits at once (leases protect the jobs).
`;

const DEFAULT_QUEUES = ['default', 'callbacks'];

export async function main(argv = process.argv.slice(2)): Promise<void> {
  // The terminal view (status, jobs, job, retry, ...) has options of its own: dispatched before parsing.
  const flags = new Set(['--json', '--watch', '--help', '-h']);
  const first = argv.find((a, i) => !a.startsWith('-') && !(i > 0 && /^--[^=]+$/.test(argv[i - 1]!) && !flags.has(argv[i - 1]!)));
  if (first && INSPECT_COMMANDS.has(first)) {
    process.exitCode = await runInspect(argv);
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      queues: { type: 'string' },
      concurrency: { type: 'string' },
      'lease-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
      'log-level': { type: 'string' },
      tasks: { type: 'string', multiple: true },
      'api-keys-file': { type: 'string' },
      'consent-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      burst: { type: 'boolean', short: 'b' },
    },
  });
  const command = positionals[0];
  if (values.help || !command || command === 'help') {
    process.stdout.write(HELP + INSPECT_HELP);
    return;
  }
  if (!['start', 'server', 'worker', 'scheduler'].includes(command)) {
    process.stderr.write(`fusion: unknown command "${command}"\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const int = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
  const logger = createLogger({ level: values['log-level'] });
  const storeUrl = values.store ?? process.env.FUSION_STORE ?? DEFAULT_STORE_URL;
  const port = int(values.port ?? process.env.FUSION_PORT, 'port', 8002);
  const host = values.host ?? process.env.FUSION_HOST ?? '127.0.0.1';
  const graceMs = int(values['grace-ms'], 'grace-ms', 10_000);
  const concurrency = int(values.concurrency, 'concurrency', 10);
  const leaseMs = int(values['lease-ms'], 'lease-ms', 30_000);
  const serving = command === 'start' || command === 'server';
  // Keys and the bind address are checked before anything opens: a public port without keys never starts.
  const apiKeys = serving ? keysFromEnv(process.env, values['api-keys-file']) : [];
  const bindWarning = serving ? checkBind(host, apiKeys.length).warning : undefined;

  const fusion = await Fusion.open({ store: storeUrl, logger });
  const taskFiles = values.tasks ?? process.env.FUSION_TASKS?.split(',').filter(Boolean) ?? [];
  for (const file of taskFiles) {
    const mod = await import(pathToFileURL(resolve(file)).href);
    if (typeof mod.default !== 'function') throw new Error(`${file} must export a default function (fusion) => void`);
    await mod.default(fusion);
  }
  const workers: Worker[] = [];
  const stoppers: (() => Promise<void>)[] = [];

  // Signal handlers first: a component may log readiness (and be signalled) before main() returns.
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) {
      logger.warn({ signal: sig }, 'second signal: exiting now; leases protect running jobs');
      logger.flush?.();
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal: sig, graceMs }, 'shutting down');
    void (async () => {
      for (const s of stoppers) await s();
      await fusion.close(graceMs);
      logger.info({}, 'bye');
      logger.flush?.();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  if (command === 'start' || command === 'worker') {
    const queues = values.queues?.split(',').map((q) => q.trim()).filter(Boolean) ?? [...new Set([...DEFAULT_QUEUES, ...fusion.taskQueues()])];
    workers.push(
      fusion.worker({
        queues,
        concurrency,
        leaseMs,
      }),
    );
    fusion.startMaintenance();
    if (values.burst) void whenDrained(fusion.store, queues).then(() => onSignal('burst: queues empty'));
  }
  if (command === 'start' || command === 'scheduler') {
    fusion.startScheduler();
    logger.info({ schedules: (await fusion.scheduler.list()).length }, 'scheduler running');
  }
  if (serving) {
    const consent = new FileConsentStore(values['consent-file'] ?? process.env.FUSION_CONSENT_FILE ?? './data/consent.jsonl');
    const app = await buildServer({ fusion, apiKeys, logger, consent });
    app.addHook('onClose', () => consent.close());
    await app.listen({ port, host });
    if (bindWarning) logger.warn({ host }, bindWarning);
    logger.info({ url: `http://${host}:${port}`, store: storeUrl.replace(/\/\/[^@/]*@/, '//***@'), apiKeys: apiKeys.length }, 'fusion listening');
    stoppers.push(() => app.close());
  }
}

main().catch((err) => {
  process.stderr.write(`fusion: ${(err as Error).message}\n`);
  process.exit(1);
});
