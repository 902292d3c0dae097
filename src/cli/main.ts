// The `fusion` command: start (all in one), server, worker, scheduler; `config check`.
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Fusion } from '../fusion.js';
import { DEFAULT_MAX_LAG_MS, DEFAULT_TIMEOUTS, buildServer } from '../api/server.js';
import { DEFAULT_MAX_DEPTH } from '../api/body-depth.js';
import { allowedHostsFromEnv, checkBind, keysFromEnv, trustedFromEnv } from '../api/auth.js';
import { FileConsentStore } from '../api/consent.js';
import { createShippingLogger } from '../logging.js';
import { ConfigError, configPath, loadConfig, routingTable } from '../channels/config.js';
import { parsePublicUrl } from '../channels/public-url.js';
import { consentRule } from '../channels/whatsapp/consent.js';
import { DEFAULT_STORE_URL } from '../stores/index.js';
import { isRedisUrl, redactStoreUrl } from '../stores/url.js';
import type { Worker } from '../core/worker.js';
import type { Store } from '../core/store.js';
import type { Logger } from '../core/logger.js';
import { MAX_WORKER_SLOTS, MIN_LEASE_MS, workerNumberProblem, type WorkerNumbers } from '../core/worker-options.js';
import { INSPECT_COMMANDS, INSPECT_HELP, runInspect } from './inspect.js';
import { whenDrained } from './burst.js';
import { parseLanes, workerLanes } from './lanes.js';
import { storeCommand } from './store-info.js';

const HELP = `fusion — a task hub: priority queues, workers, retries, schedules, HTTP API

Usage: fusion <command> [options]

Commands:
  start       everything in one process: API server, workers (one per lane, see --queues),
              maintenance, scheduler
  server      the HTTP API only
  worker      workers only, one per lane (plus lease recovery and retention)
  scheduler   the scheduler only: fires due schedules (any number may run on one store)
  config check validate the config file and print the routing it implies (exit 2 if invalid)
  store info  the store a URL names and, for PostgreSQL and SQLite, its schema version
  store upgrade  Redis: new jobs store only the fields not at their default (lean job hashes).
              Run once no process older than this version uses the prefix; refused while live
              workers of an earlier version are registered in it (--force: mark it anyway)

Options:
  --config FILE        fusion.config.json: providers, routes, outgoing policy, logging (env
                       FUSION_CONFIG; relative to the working directory). Without it every
                       channel runs dry (jobs complete, nothing is sent). See docs/configuration.md
  --store URL          store URL (env FUSION_STORE; default ${DEFAULT_STORE_URL})
                       sqlite:PATH[?synchronous=FULL]   redis://HOST:PORT/DB
  --port N             HTTP port (env FUSION_PORT; default 8002)
  --host ADDR          HTTP bind address (env FUSION_HOST; default 127.0.0.1)
  --queues a,b,c       queues the worker process serves (default: every known queue, the
                       channels' included), each with its own --concurrency slots, so a queue
                       that hangs or piles up holds no other back; a+b: one worker's slots
                       shared by a and b, a drained before b; a=50: that lane's own slot count
  --concurrency N      jobs each of those workers runs at once (default 10, at most ${MAX_WORKER_SLOTS})
  --burst              worker: exit once its queues hold nothing queued or running
  --name NAME          worker: its id in /v1/workers, the dashboard and job attempts (default
                       HOST:PID:RANDOM); %h is replaced by the host name; with several lanes
                       each worker is NAME/<lane>. Give each process its own.
  --lease-ms N         lease length in ms (default 30000, at least ${MIN_LEASE_MS})
  --grace-ms N         on SIGTERM/SIGINT, wait this long for running jobs (default 10000)
  --tasks FILE         a module whose default export, (fusion) => void, registers task
                       handlers (repeatable; env FUSION_TASKS, comma-separated)
  --log-level LEVEL    trace|debug|info|warn|error (env FUSION_LOG_LEVEL; default info)
  --otel               an OpenTelemetry span per job attempt (env FUSION_OTEL=1), through the
                       tracer provider the process registers (a --tasks module, or node --import)
  --api-keys-file FILE API keys with roles, JSON (env FUSION_API_KEYS_FILE); keys also come from
                       env FUSION_API_KEYS="KEY:admin,KEY2:send+read". Without any key the API
                       only binds to loopback; a public --host without keys is refused.
                       Env FUSION_TRUSTED_NETWORKS="10.0.0.0/8,..." lets keyless requests from those
                       networks reach the compatibility routes with FUSION_TRUSTED_ROLE (default send;
                       e.g. send+read lets old clients read job status too). Requests let in
                       without a key must name the server by an IP address or localhost, or by a
                       name in env FUSION_ALLOWED_HOSTS="fusion.internal,..."; a browser page of
                       another site is refused.
  --public-url URL     the hub's public base URL when TLS ends at a proxy in front of it
                       (https://hub.example; env FUSION_PUBLIC_URL; or server.publicUrl in the
                       config): providers' signed callbacks (Twilio's) are checked against it
  --consent-file FILE  where WhatsApp consent (/update_consent/) is kept (env FUSION_CONSENT_FILE;
                       default ./data/consent.jsonl)
  --headers-timeout MS a client must send its request headers within MS (default 10000)
  --request-timeout MS a client must send its whole request, body included, within MS; then
                       408 and the connection closes (default 30000)
  --keep-alive-timeout MS  an idle keep-alive connection closes after MS (default 5000)
  --max-lag MS         /readyz answers 503 while the event loop lags more than MS (default 1000)
  --max-body-depth N   deepest nesting of objects/arrays in a request body (default 64)
  -h, --help           this help

Signals: the first SIGTERM/SIGINT stops claiming, waits for running jobs up to --grace-ms,
gives back what still runs, and exits 0. A second one exits at once (leases protect the jobs).
`;

const DEFAULT_QUEUES = ['default', 'callbacks'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * A FUSION_* variable, an empty one being unset: `FUSION_PORT=${PORT}` with PORT unset in a compose or
 * unit file means the default, not port 0 (a random port) nor host "" (every interface).
 */
const envVar = (name: string): string | undefined => process.env[name] || undefined;

export async function main(argv = process.argv.slice(2)): Promise<void> {
  // The terminal view (status, jobs, job, retry, ...) has options of its own: dispatched before parsing.
  const flags = new Set(['--json', '--watch', '--help', '-h', '--otel']);
  const first = argv.find((a, i) => !a.startsWith('-') && !(i > 0 && /^--[^=]+$/.test(argv[i - 1]!) && !flags.has(argv[i - 1]!)));
  if (first && INSPECT_COMMANDS.has(first)) {
    process.exitCode = await runInspect(argv);
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
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
      'public-url': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      'max-lag': { type: 'string' },
      'max-body-depth': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      burst: { type: 'boolean', short: 'b' },
      name: { type: 'string', short: 'n' },
      otel: { type: 'boolean' },
      force: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (values.help || !command || command === 'help') {
    process.stdout.write(HELP + INSPECT_HELP);
    return;
  }
  if (command === 'config') {
    await configCommand(positionals[1], values.config);
    return;
  }
  if (command === 'store') {
    await storeCommand(positionals[1], values.store ?? envVar('FUSION_STORE'), { force: values.force ?? false });
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
  // The config is read first: a bad file stops the start (exit 2) before anything opens.
  const { config, warnings } = loadConfig(configPath(values.config));
  const level = values['log-level'] ?? envVar('FUSION_LOG_LEVEL');
  // Checked here: pino's own refusal ("default level:x must be included in custom levels") names neither.
  if (level !== undefined && !LOG_LEVELS.includes(level)) throw new Error(`--log-level (or FUSION_LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const shipping = await createShippingLogger({
    level: level ?? config.logging?.level ?? 'info',
    elasticsearch: config.logging?.elasticsearch,
  });
  const logger = shipping.logger;
  for (const w of warnings) logger.warn({}, `config: ${w}`);
  const storeUrl = values.store ?? envVar('FUSION_STORE') ?? DEFAULT_STORE_URL;
  const port = int(values.port ?? envVar('FUSION_PORT'), 'port', 8002);
  if (port > 65535) throw new Error(`--port must be at most 65535, got "${port}"`);
  const host = values.host ?? envVar('FUSION_HOST') ?? '127.0.0.1';
  const graceMs = int(values['grace-ms'], 'grace-ms', 10_000);
  // The worker's own rules (core), checked before anything opens: the flags and the library refuse alike.
  const workerNumber = (name: string, field: keyof WorkerNumbers, dflt: number) => {
    const n = int(values[name as keyof typeof values] as string | undefined, name, dflt);
    const problem = workerNumberProblem(field, n);
    if (problem) throw new Error(`--${name} ${problem}; got "${values[name as keyof typeof values]}"`);
    return n;
  };
  const leaseMs = workerNumber('lease-ms', 'leaseMs', 30_000);
  const positive = (name: string, dflt: number) => {
    const n = int(values[name as keyof typeof values] as string | undefined, name, dflt);
    if (n < 1) throw new Error(`--${name} must be at least 1`);
    return n;
  };
  const concurrency = workerNumber('concurrency', 'concurrency', 10);
  const workerName = values.name === undefined ? undefined : values.name.replaceAll('%h', hostname()).trim();
  if (workerName !== undefined && !/^[^\s]{1,200}$/.test(workerName)) throw new Error(`--name must be 1 to 200 characters without spaces, got "${values.name}"`);
  // A bad list stops the start before anything opens.
  for (const lane of values.queues === undefined ? [] : parseLanes(values.queues)) {
    const problem = lane.concurrency === undefined ? undefined : workerNumberProblem('concurrency', lane.concurrency);
    if (problem) throw new Error(`--queues: the slots of "${lane.queues.join('+')}" ${problem}; got ${lane.concurrency}`);
  }
  const limits = {
    headersTimeoutMs: positive('headers-timeout', DEFAULT_TIMEOUTS.headersMs),
    requestTimeoutMs: positive('request-timeout', DEFAULT_TIMEOUTS.requestMs),
    keepAliveTimeoutMs: positive('keep-alive-timeout', DEFAULT_TIMEOUTS.keepAliveMs),
    maxEventLoopLagMs: positive('max-lag', DEFAULT_MAX_LAG_MS),
    maxBodyDepth: positive('max-body-depth', DEFAULT_MAX_DEPTH),
  };
  const serving = command === 'start' || command === 'server';
  // Keys and the bind address are checked before anything opens: a public port without keys never starts.
  const apiKeys = serving ? keysFromEnv(process.env, values['api-keys-file']) : [];
  const trustedNetworks = serving ? trustedFromEnv(process.env) : undefined;
  const allowedHosts = serving ? allowedHostsFromEnv(process.env) : [];
  const bindWarning = serving ? checkBind(host, apiKeys.length, trustedNetworks?.cidrs.length ?? 0).warning : undefined;
  // The flag and the variable win over the config's server.publicUrl (checked with the file).
  const publicUrlFlag = values['public-url'] ?? envVar('FUSION_PUBLIC_URL');
  let publicUrl: string | undefined;
  try {
    publicUrl = publicUrlFlag === undefined ? undefined : parsePublicUrl(publicUrlFlag);
  } catch (e) {
    throw new Error(`--public-url (or FUSION_PUBLIC_URL): ${(e as Error).message}`);
  }

  const otel = values.otel ?? ['1', 'true'].includes(process.env.FUSION_OTEL ?? '');
  const fusion = await Fusion.open({ store: storeUrl, logger, config, otel });
  if (isRedisUrl(storeUrl)) logRedisPersistence(fusion.store, logger).catch(() => {});
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
      // The workers stop claiming now, beside the server's close, not after it: a client that holds
      // the close (up to the grace) would have them claim and start jobs the whole while, and then
      // give their running jobs a second grace.
      await Promise.all([...stoppers.map((s) => s()), ...workers.map((w) => w.stop(graceMs))]);
      await fusion.close(graceMs);
      logger.info({}, 'bye');
      await shipping.close();
      logger.flush?.();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  // The port is bound before any worker starts: a port in use (another hub, a restart loop) stops
  // the start before a job is claimed, not after jobs were claimed and sent, then left to their leases.
  let app: Awaited<ReturnType<typeof buildServer>> | undefined;
  if (serving) {
    const consent = new FileConsentStore(values['consent-file'] ?? envVar('FUSION_CONSENT_FILE') ?? './data/consent.jsonl');
    app = await buildServer({ fusion, apiKeys, logger, consent, trustedNetworks, allowedHosts, publicUrl, ...limits });
    app.addHook('onClose', () => consent.close());
    await app.listen({ port, host });
    const server = app;
    stoppers.push(async () => {
      // Node stops enforcing --request-timeout once its server is closing: a client that never ends
      // its request (a stalled upload, a slowloris) would hold the close, and the workers' stop after
      // it, for ever. Past the grace its connection is cut.
      const cut = setTimeout(() => server.server.closeAllConnections(), graceMs);
      try {
        await server.close();
      } finally {
        clearTimeout(cut);
      }
    });
  }
  if (command === 'start' || command === 'worker') {
    const lanes = workerLanes(values.queues, [...DEFAULT_QUEUES, ...fusion.taskQueues()]);
    const queues = lanes.flatMap((l) => l.queues);
    for (const lane of lanes) {
      const id = workerName && lanes.length > 1 ? `${workerName}/${lane.queues.join('+')}` : workerName;
      workers.push(fusion.worker({ queues: lane.queues, concurrency: lane.concurrency ?? concurrency, leaseMs, ...(id ? { id } : {}) }));
    }
    fusion.startMaintenance();
    logger.info({
      queues, lanes: lanes.map((l) => ({ queues: l.queues, concurrency: l.concurrency ?? concurrency })), workerIds: workers.map((w) => w.id),
    }, 'worker running');
    // Said once: a fresh install completes channel jobs without sending anything.
    const dry = fusion.channels.dryRun;
    if (dry.length) logger.info({ channels: dry }, `channels in dry-run (no provider configured): ${dry.join(', ')}`);
    // Said once too: whether a WhatsApp number needs a recorded opt-in, or only a recorded opt-out stops it.
    if (fusion.channels.tasks.includes('whatsapp')) {
      const rule = consentRule(fusion.config.channels?.whatsapp);
      logger.info({ channel: 'whatsapp', requireConsent: rule.requireConsent }, rule.text);
    }
    if (values.burst) void whenDrained(fusion.store, queues).then(() => onSignal('burst: queues empty'));
  }
  if (command === 'start' || command === 'scheduler') {
    fusion.startScheduler();
    logger.info({ schedules: (await fusion.scheduler.list()).length }, 'scheduler running');
  }
  if (app) {
    if (bindWarning) logger.warn({ host }, bindWarning);
    // The bound port, not the asked one: `--port 0` takes a free port and callers read it here.
    const bound = (app.server.address() as { port: number } | null)?.port ?? port;
    logger.info({ url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, store: redactStoreUrl(storeUrl), apiKeys: apiKeys.length }, 'fusion listening');
  }
}

/** `fusion config check`: validate, then print the routing table (credentials masked). */
async function configCommand(sub: string | undefined, flag: string | undefined): Promise<void> {
  if (sub !== 'check') {
    process.stderr.write(`fusion: unknown config command "${sub ?? ''}" (use: fusion config check [--config FILE])\n`);
    process.exitCode = 2;
    return;
  }
  const file = configPath(flag);
  if (!file) throw new ConfigError(['no config file: give --config FILE or set FUSION_CONFIG']);
  const { config, warnings } = loadConfig(file);
  // The channels say themselves which run dry: open them on a throwaway in-memory store.
  const fusion = await Fusion.open({ store: 'sqlite::memory:', config });
  const dryRun = fusion.channels.dryRun;
  await fusion.close();
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  // The variable wins over the file at start (--public-url too): the table shows what would apply.
  const envUrl = envVar('FUSION_PUBLIC_URL');
  const shown = envUrl === undefined ? config : { ...config, server: { ...config.server, publicUrl: parsePublicUrl(envUrl) } };
  process.stdout.write(`${file}: valid\n\n${routingTable(shown, dryRun)}`);
}

main().catch((err) => {
  process.stderr.write(`fusion: ${(err as Error).message}\n`);
  // A bad config is the caller's to fix: exit 2, like a usage error.
  process.exit(err instanceof ConfigError ? 2 : 1);
});

/**
 * An add is answered once Redis holds it in memory, so what a crash of Redis costs is its
 * persistence's: logged at start, as a warning where a crash or restart of Redis would lose jobs;
 * and what it does at its memory limit, as a warning where it would delete jobs.
 */
async function logRedisPersistence(store: Store, logger: Logger): Promise<void> {
  const { RedisStore } = await import('../stores/redis/store.js');
  if (!(store instanceof RedisStore)) return;
  const { describeMemory, describePersistence, memoryWarning, persistenceWarning, readPersistence } = await import('../stores/redis/persistence.js');
  const servers = await readPersistence(store.client).catch(() => null);
  if (!servers?.length) return;
  const warning = persistenceWarning(servers, store.replicaWait);
  if (warning) logger.warn({}, `store persistence: ${warning}`);
  else logger.info({}, `store persistence: ${describePersistence(servers[0]!, store.replicaWait)}`);
  const evicting = memoryWarning(servers);
  if (evicting) logger.warn({}, `store memory: ${evicting}`);
  else logger.info({}, `store memory: ${describeMemory(servers[0]!)}`);
}
