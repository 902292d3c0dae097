// The HTTP server: native /v1 routes, the compatibility routes, auth, validation, errors, metrics,
// OpenAPI. It is given a Fusion (and optionally a scheduler); it never touches a store's internals.
import './tick-maps.js'; // first: keeps nextTick's object shapes (see there)
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Fusion } from '../fusion.js';
import { logRedactor } from '../logging.js';
import { maskerFor } from './present.js';
import { Authenticator, type ApiKey, type TrustedNetworks } from './auth.js';
import { installErrorHandling } from './errors.js';
import { installValidators, type RouteConfig } from './validation.js';
import { IdempotencyCache, installIdempotency, type IdempotencyOptions } from './idempotency.js';
import { ApiMetrics } from './metrics.js';
import { JobWatcher } from './watcher.js';
import { StoreConsentStore, type ConsentStore } from './consent.js';
import { DEFAULT_WINDOW, type TimeWindow } from './times.js';
import { LoopLag } from './loop-lag.js';
import { OpenApiCollector } from './openapi.js';
import type { ApiContext } from './context.js';
import type { SchedulerLike } from './scheduler-port.js';
import { jobRoutes } from './routes/jobs.js';
import { queueRoutes } from './routes/queues.js';
import { legacyRoutes } from './routes/legacy.js';
import { scheduleRoutes } from './routes/schedules.js';
import { systemRoutes } from './routes/system.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { eventRoutes } from './routes/events.js';
import { inspectRoutes } from './routes/inspect.js';
import { providerRoutes } from './routes/providers.js';
import { dashboardRoutes } from '../dashboard/serve.js';
import { whatsappRoutes } from './routes/whatsapp.js';
import { apiError } from './errors.js';
import { DEFAULT_MAX_DEPTH, payloadTooDeep, tooDeep } from './body-depth.js';
import { parsePublicUrl } from '../channels/public-url.js';
import { parseForm } from './form-body.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface ServerOptions {
  fusion: Fusion;
  /** false (default): no logs. true: JSON logs to stdout. Or a pino logger, or a stream to write JSON logs to. */
  logger?: boolean | PinoLogger | { level?: string; stream: DestinationStream };
  /** API keys. None: every request is allowed (bind to loopback only; see checkBind). */
  apiKeys?: ApiKey[];
  /** Keyless requests from these networks reach the compatibility routes with `role` (FUSION_TRUSTED_NETWORKS). */
  trustedNetworks?: TrustedNetworks;
  /**
   * Host names, besides IP addresses and localhost, that requests let in without a key (no keys, or
   * a trusted network) may name in Host (FUSION_ALLOWED_HOSTS); other names are refused (DNS rebinding).
   */
  allowedHosts?: string[];
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Accepted window for due times. */
  window?: Partial<TimeWindow>;
  /** More payload field names to mask in answers and logs, beyond the secret-looking ones (core/secret-fields.ts). */
  sensitiveFields?: string[];
  /** Where WhatsApp consent is kept (default: in memory). */
  consent?: ConsentStore;
  /** The scheduler behind the schedule routes (default: the Fusion's own); null: they answer 503. */
  scheduler?: SchedulerLike | null;
  /** Task names accepted besides registered tasks and channels (handlers living in other processes). */
  knownTasks?: string[];
  idempotency?: IdempotencyOptions;
  /** Node process metrics on /metrics (default true). */
  processMetrics?: boolean;
  trustProxy?: boolean;
  /**
   * The hub's public base URL behind a TLS-terminating proxy (https://hub.example): providers'
   * signed callbacks are checked against it plus the request's path. Default: the Fusion's config
   * `server.publicUrl`; neither: the URL the request arrived at.
   */
  publicUrl?: string;
  /**
   * Group commit: job creations arriving in one event-loop turn share one store write, through the
   * Fusion's enqueue funnel (default true). false: a request's add goes at once, and shares a store
   * write only with adds arriving while the funnel's slots are busy (on a remote store).
   */
  groupCommit?: boolean;
  /** Deepest nesting of objects/arrays in a body (default 64); deeper answers 400 payload_too_deep. */
  maxBodyDepth?: number;
  /** A client must send all request headers within this many ms (default 10,000). */
  headersTimeoutMs?: number;
  /** A client must send the whole request, body included, within this many ms (default 30,000); then 408 and close. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this many ms (default 5,000). */
  keepAliveTimeoutMs?: number;
  /** /readyz answers 503 while the event loop lags more than this many ms (default 1,000). */
  maxEventLoopLagMs?: number;
  /** Keep-alive comments on /v1/events this often (default 15 s). */
  eventsHeartbeatMs?: number;
  /** A /v1/events viewer whose socket stays full this long is disconnected (default 60 s). */
  eventsStallMs?: number;
}

export const DEFAULT_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };
export const DEFAULT_MAX_LAG_MS = 1000;

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | null;
    /** The matched route's URL pattern (set by its first hook); null on the 404 path. */
    routeUrl: string | null;
    /** performance.now() when the request's first hook ran (its route's key check, or the 404 path's preValidation); 0 before. */
    startedAt: number;
  }
  interface FastifyContextConfig {
    role?: RouteConfig['role'];
    legacy?: boolean;
    hidden?: boolean;
  }
}

function makeLogger(opt: ServerOptions['logger'], sensitive: string[]): PinoLogger | false {
  if (!opt) return false;
  if (typeof opt === 'object' && 'info' in opt && typeof opt.info === 'function') return opt as PinoLogger;
  const formatters = { log: logRedactor(sensitive) };
  if (opt === true) return pino({ level: process.env.FUSION_LOG_LEVEL ?? 'info', formatters });
  const o = opt as { level?: string; stream: DestinationStream };
  return pino({ level: o.level ?? 'info', formatters }, o.stream);
}

/**
 * The native API is JSON only; form and text bodies belong to the compatibility routes. Checked by
 * the parsers other than the JSON one, before parsing (a body /v1 refuses costs no parse), so that
 * a JSON request pays no hook for it (a preValidation hook ran on every request).
 */
const notJsonOnV1 = (req: FastifyRequest) => req.url.startsWith('/v1/') && !/^application\/json/i.test(req.headers['content-type'] ?? '');
const jsonOnly = () => apiError(415, 'unsupported_media_type', 'the /v1 API takes application/json bodies', { field: 'content-type' });

/** The text starts with { or [. */
const opensJson = (text: string) => {
  const c = text.charCodeAt(0);
  return c === 123 || c === 91;
};

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { fusion } = opts;
  const sensitive = [...new Set(opts.sensitiveFields ?? [])];
  const logger = makeLogger(opts.logger, sensitive);
  const maxDepth = opts.maxBodyDepth ?? DEFAULT_MAX_DEPTH;
  const publicBase = opts.publicUrl ?? fusion.config.server?.publicUrl;
  let publicUrl: string | undefined;
  try {
    publicUrl = publicBase ? parsePublicUrl(publicBase) : undefined;
  } catch (e) {
    throw new TypeError(`publicUrl: ${(e as Error).message}`);
  }
  const headersMs = opts.headersTimeoutMs ?? DEFAULT_TIMEOUTS.headersMs;
  const requestMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUTS.requestMs;
  const app = Fastify({
    // Slow clients: Node closes a connection whose headers (headersTimeout) or whole request
    // (requestTimeout, body included) take too long, with a 408, checking every
    // connectionsCheckingInterval; an idle keep-alive connection closes after keepAliveTimeout.
    // None of these cut a response being written (long polls, SSE).
    requestTimeout: requestMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_TIMEOUTS.keepAliveMs,
    http: {
      headersTimeout: Math.min(headersMs, requestMs),
      requestTimeout: requestMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersMs, requestMs) / 4))),
    },
    loggerInstance: logger || undefined,
    // Fastify's own per-request lines are replaced by the one onSend line below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    return503OnClosing: true,
    // Router-level refusals (bad URL encoding, over-long path parameter) in the API's error shape too.
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      void (reply as unknown as { code(n: number): { send(b: unknown): unknown } }).code(status).send({ error: { code: status === 414 ? 'uri_too_long' : 'invalid_request', message: err.message, details: { field: 'url' } } });
    },
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
  }) as unknown as FastifyInstance;

  installValidators(app);
  installErrorHandling(app, (req, _reply, done) => {
    req.startedAt = performance.now();
    done();
  });

  // Empty JSON bodies are common on action routes (POST .../cancel): treat them as no body.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  // Every body is checked for depth before it is parsed (see body-depth.ts). A request to an
  // unknown URL gets its 404 without its body parsed: it passed no key check (routes have theirs).
  const json = (req: FastifyRequest, text: string, done: (err: Error | null, body?: unknown) => void) => {
    if (tooDeep(text, maxDepth)) return done(payloadTooDeep(maxDepth));
    return defaultJson(req, text, done);
  };
  const form = (req: FastifyRequest, text: string, done: (err: Error | null, body?: unknown) => void) => {
    if (notJsonOnV1(req)) return done(jsonOnly());
    let out: Record<string, unknown>;
    try {
      out = parseForm(text, maxDepth);
    } catch (e) {
      return done(e as Error);
    }
    done(null, out);
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    // A body starting with { or [ (neither is white space) is not blank: no trimmed copy to look at.
    if (req.is404 || body === '' || (typeof body === 'string' && !opensJson(body) && body.trim() === '')) return done(null, undefined);
    return json(req, body as string, done);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => (req.is404 ? done(null, undefined) : form(req, body as string, done)));
  // Old clients post JSON without a content type (Python's requests with data=json.dumps(...)), or
  // as text/plain; the original server read those too. /v1 refuses them (415) unparsed.
  const lenient = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    if (req.is404) return done(null, undefined);
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    if (notJsonOnV1(req)) return done(jsonOnly());
    if (text.startsWith('{') || text.startsWith('[')) return json(req, text, done);
    if (/^[^=&\s]+=/.test(text)) return form(req, text, done);
    done(null, body);
  };
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, lenient);
  app.addContentTypeParser('*', { parseAs: 'string' }, lenient);

  const auth = new Authenticator(opts.apiKeys ?? [], opts.trustedNetworks, opts.allowedHosts);
  app.decorateRequest('apiKey', null);
  app.decorateRequest('routeUrl', null);
  app.decorateRequest('startedAt', 0);
  // The key check is each route's own first onRequest hook, made when the route is added with its
  // role and URL in hand: a global hook had to read req.routeOptions (a getter that builds a
  // 12-field object and asks the router for its version strategy) on every request. Unknown routes
  // fall through to the 404 handler without it, as before; every known route states its role.
  // Callback-style: an async hook costs a promise per request.
  const checks = new WeakSet<object>();
  app.addHook('onRoute', (route) => {
    const config = route.config as RouteConfig | undefined;
    const role = config?.role ?? 'admin';
    const compat = config?.legacy === true;
    const url = route.url;
    const check = (req: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
      req.startedAt = performance.now();
      req.routeUrl = url;
      try {
        req.apiKey = auth.check(req.headers, role, { peer: req.socket, compat });
      } catch (e) {
        return done(e as Error);
      }
      done();
    };
    checks.add(check);
    // A GET route's HEAD twin comes with the GET's hooks, its check included: that one is replaced.
    const own = (route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]).filter((h) => !checks.has(h as never));
    route.onRequest = [check, ...own] as typeof route.onRequest;
  });

  const principalOf = (req: FastifyRequest) => (req.apiKey ? `key:${req.apiKey.digest.subarray(0, 12).toString('hex')}` : 'anonymous');
  const idempotencySent = installIdempotency(app, new IdempotencyCache(opts.idempotency), principalOf);

  const watcher = new JobWatcher(fusion.store);
  const loopLag = new LoopLag().start();
  const metrics = new ApiMetrics(fusion.store, {
    defaultMetrics: opts.processMetrics, waiting: () => watcher.waiting, lagMs: () => loopLag.lagMs(), lifecycle: fusion.lifecycle,
    now: () => fusion.clock.now(),
  }).start();
  const ownConsent = opts.consent === undefined;
  const consent = opts.consent ?? new StoreConsentStore(fusion.store, () => fusion.clock.now());
  const now = () => fusion.clock.now();
  const ctx: ApiContext = {
    fusion,
    store: fusion.store,
    window: { ...DEFAULT_WINDOW, ...opts.window },
    sensitive,
    metrics,
    watcher,
    consent,
    enqueuer: fusion.enqueuer,
    groupCommit: opts.groupCommit ?? true,
    scheduler: opts.scheduler === undefined ? fusion.scheduler : opts.scheduler,
    extraTasks: new Set(opts.knownTasks ?? []),
    loopLag,
    maxLagMs: opts.maxEventLoopLagMs ?? DEFAULT_MAX_LAG_MS,
    now,
    principalOf,
  };

  // Each answer is counted, logged and its idempotency entry settled in one onSend hook, as it is
  // handed to the socket, not in onResponse: an onResponse hook makes Fastify put 'finish' and
  // 'error' listeners on every response and run a hook chain after it (~2 µs of POST /v1/jobs, in
  // Node's stream and event code; a logger makes Fastify add the listeners too, so a server without
  // one saves the most). The duration runs from the request's first hook to the send: Fastify's
  // reply.elapsedTime is 0 where it does not follow the response.
  // A hijacked answer (the event stream) skips onSend; its route counts itself (metrics.request).
  // The log line: what, who (key name, never the key), outcome, time.
  const mask = maskerFor(sensitive);
  app.addHook('onSend', (req, reply, payload, done) => {
    idempotencySent(req, reply, payload);
    const started = req.startedAt;
    const route = req.routeUrl ?? 'unmatched';
    const status = reply.statusCode;
    const seconds = started === 0 ? 0 : (performance.now() - started) / 1000;
    metrics.request(req.method, route, status, seconds);
    if (logger) {
      const line = { method: req.method, route, url: req.url.split('?')[0], status, ms: Math.round(seconds * 100_000) / 100, key: req.apiKey?.name ?? null, reqId: req.id };
      if (status >= 500) req.log.error(line, 'request');
      else if (logger.isLevelEnabled('debug')) req.log.debug({ ...line, body: mask(req.body) }, 'request');
      else req.log.info(line, 'request');
    }
    done(null, payload);
  });

  const openapi = new OpenApiCollector();
  openapi.attach(app);
  systemRoutes(app, ctx, openapi);
  jobRoutes(app, ctx, opts.bodyLimit ?? DEFAULT_BODY_LIMIT);
  queueRoutes(app, ctx);
  const legacySchedules = scheduleRoutes(app, ctx);
  legacyRoutes(app, ctx, legacySchedules);
  void app.register(async (child) => deliveryRoutes(child, ctx, publicUrl));
  eventRoutes(app, ctx, opts.eventsHeartbeatMs, opts.eventsStallMs);
  inspectRoutes(app, ctx);
  providerRoutes(app, ctx);
  dashboardRoutes(app);
  whatsappRoutes(app, ctx);

  // Wake long-polls before close waits for in-flight requests, or shutdown would wait out their ?wait=.
  app.addHook('preClose', (done) => {
    watcher.close();
    done();
  });
  app.addHook('onClose', async () => {
    metrics.stop();
    loopLag.stop();
    if (ownConsent) await consent.close();
  });
  return app;
}

