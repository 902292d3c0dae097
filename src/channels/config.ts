// fusion.config.json: found (--config or FUSION_CONFIG), read, checked against a JSON Schema made of
// the fixed shape (config-types.ts) plus each provider adapter's own configSchema, `env:NAME`
// references resolved, routes checked against the configured providers. A bad file fails at start
// with the path of every bad field. Credentials are never printed: redactConfig() masks them.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ChannelName, ProviderFactory } from './provider.js';
import type { ChannelConfig, FusionConfig, ProviderEntry } from './config-types.js';
import { DRY_RUN } from './dry-run.js';
import { signingKey } from './http/signing.js';
import { hostBreakerSettings } from './http/host-breaker.js';
import { slowHostSettings } from './http/slow-hosts.js';
import { callbackRetry, callbackRetryProblem } from './callback-retry.js';
import { EXPONENTIAL_DEFAULTS, retrySpanMs } from '../core/backoff.js';
import type { BackoffPolicy } from '../core/job.js';
import { EMAIL_CHANNEL_SCHEMA } from './email/config.js';
import { parsePublicUrl } from './public-url.js';
import { OutgoingGuard } from './http/guard.js';
import { redactUrl } from './redact-url.js';
import { consentRule } from './whatsapp/consent.js';
import { PROVIDER_CATALOGUES, PROVIDER_CHANNELS, factoryFor, secretField, type Catalogues } from './secrets.js';

export { PROVIDER_CATALOGUES, PROVIDER_CHANNELS, isSecretName, secretValues, type Catalogues, type ProviderChannel } from './secrets.js';

/** The fields every provider entry may carry, whatever its adapter (config-types.ts ProviderEntry). */
const COMMON_PROVIDER_FIELDS = ['type', 'countries', 'ratePerSecond', 'selectable', 'allowPayloadCredentials', 'platform'];

const ROUTE_KEY = '^(default|\\+[1-9][0-9]{0,3})$';
const EMAIL_ROUTE_KEY = '^(default|[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$';
const providerNames = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } };
const routeMap = { type: 'object', propertyNames: { pattern: ROUTE_KEY }, additionalProperties: providerNames };

const providerEntry = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', minLength: 1 },
    countries: { type: 'array', items: { type: 'string', pattern: '^\\+[1-9][0-9]{0,3}$' } },
    ratePerSecond: { type: 'number', exclusiveMinimum: 0 },
    selectable: { type: 'boolean' },
    allowPayloadCredentials: { type: 'boolean' },
  },
  // The adapter's own fields are checked against its configSchema once its type is known.
  additionalProperties: true,
};

const channelConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    providers: { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }, additionalProperties: providerEntry },
    routes: routeMap,
    otpRoutes: routeMap,
    failover: {
      type: 'object',
      additionalProperties: false,
      properties: {
        threshold: { type: 'integer', minimum: 1 },
        windowMs: { type: 'integer', minimum: 1 },
        cooldownMs: { type: 'integer', minimum: 0 },
      },
    },
  },
};

/** Email routes are keyed by the first recipient's domain, not a calling code; the channel has fields of its own. */
const emailConfig = {
  ...channelConfig,
  properties: {
    ...channelConfig.properties,
    ...EMAIL_CHANNEL_SCHEMA,
    routes: { type: 'object', propertyNames: { pattern: EMAIL_ROUTE_KEY }, additionalProperties: providerNames },
  },
};

/** Push routes are keyed by platform; an entry may say which platform it serves. */
const pushConfig = {
  ...channelConfig,
  properties: {
    ...channelConfig.properties,
    providers: { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }, additionalProperties: { ...providerEntry, properties: { ...providerEntry.properties, platform: { enum: ['android', 'ios'] } } } },
    routes: { type: 'object', propertyNames: { enum: ['android', 'ios', 'default'] }, additionalProperties: providerNames },
  },
};

/** WhatsApp routes as SMS's, plus consent and template defaults. */
const whatsappConfig = {
  ...channelConfig,
  properties: { ...channelConfig.properties, requireConsent: { type: 'boolean' }, templateLanguage: { type: 'string', minLength: 2 } },
};

/** The fixed part of the schema: FusionConfig in config-types.ts. */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    channels: {
      type: 'object',
      additionalProperties: false,
      properties: {
        sms: channelConfig,
        email: emailConfig,
        push: pushConfig,
        whatsapp: whatsappConfig,
        webhook: {
          type: 'object',
          additionalProperties: false,
          properties: {
            signingSecret: { type: 'string', minLength: 1 },
            timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
            breaker: {
              type: 'object',
              additionalProperties: false,
              properties: {
                threshold: { type: 'integer', minimum: 0, maximum: 1000 },
                windowMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
                cooldownMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
              },
            },
            slowHost: {
              type: 'object',
              additionalProperties: false,
              properties: {
                limit: { type: 'integer', minimum: 0, maximum: 10_000 },
                afterMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
              },
            },
            // The backoff's own fields are checked by callbackRetryProblem (the engine's validateBackoff).
            callbackRetry: {
              type: 'object',
              additionalProperties: false,
              properties: {
                maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 },
                backoff: { type: 'object' },
                maxStalls: { type: 'integer', minimum: 0, maximum: 1000 },
              },
            },
          },
        },
        reminder: {
          type: 'object',
          additionalProperties: false,
          properties: { deliver: { enum: ['webhook', 'dry-run'] }, url: { type: 'string', minLength: 1 } },
        },
      },
    },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: { publicUrl: { type: 'string', minLength: 1 } },
    },
    outgoing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allow: { type: 'array', items: { type: 'string', minLength: 1 } },
        allowPattern: { type: 'string' },
        connectTimeoutMs: { type: 'integer', minimum: 1 },
      },
    },
    logging: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
        elasticsearch: {
          type: 'object',
          required: ['node'],
          additionalProperties: false,
          properties: {
            node: { type: 'string', minLength: 1 },
            index: { type: 'string', minLength: 1 },
            auth: {
              type: 'object',
              additionalProperties: false,
              properties: { username: { type: 'string' }, password: { type: 'string' }, apiKey: { type: 'string' } },
            },
          },
        },
      },
    },
  },
} as const;

/** A config that failed its checks: every problem, each naming its field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly errors: string[], readonly file?: string) {
    super(`${file ? `${file}: ` : ''}invalid configuration:\n  ${errors.join('\n  ')}`);
  }
}

export interface LoadedConfig {
  config: FusionConfig;
  /** Things allowed but worth saying (plain secrets in the file). Never hold a value. */
  warnings: string[];
  /** The file read, absolute; null when no file was given. */
  file: string | null;
}

/** A field path as people write it: `channels.sms.routes["+91"][0]`. */
export function formatPath(parts: (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out || '(root)';
}

function ajvErrors(errors: ErrorObject[] | null | undefined, base: (string | number)[]): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'propertyNames' || e.keyword === 'if') continue; // the nested error says it better
    const parts: (string | number)[] = [
      ...base,
      ...e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')),
    ];
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      parts.push(String(e.params.additionalProperty));
      message = 'is not a known field';
    } else if (e.keyword === 'required') {
      parts.push(String(e.params.missingProperty));
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'pattern' && e.propertyName !== undefined) {
      parts.push(e.propertyName);
      message = `is not a valid name (${e.message})`;
    }
    out.push(`${formatPath(parts)}: ${message}`);
  }
  return [...new Set(out)];
}

// Compiled on first use: the library (Fusion.open) never pays for it, only config loading does.
let ajv: Ajv | undefined;
let fixed: ValidateFunction | undefined;
const adapterValidators = new WeakMap<ProviderFactory<any>, ValidateFunction>();
const compiler = () => (ajv ??= new Ajv({ allErrors: true, strict: false }));
const validateFixed = () => (fixed ??= compiler().compile(CONFIG_SCHEMA));

function adapterValidator(f: ProviderFactory<any>): ValidateFunction {
  let v = adapterValidators.get(f);
  if (!v) adapterValidators.set(f, (v = compiler().compile(f.configSchema)));
  return v;
}

const ENV_REF = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;

function knownTypes(catalogues: Catalogues, channel: string): string[] {
  return [DRY_RUN, ...(catalogues[channel as ChannelName] ?? []).map((f) => f.type)];
}

/**
 * Replace `env:NAME` strings anywhere in the tree by the variable's value. A missing variable is an
 * error naming the field and the variable (never a value).
 */
function resolveEnvRefs(v: unknown, path: (string | number)[], env: NodeJS.ProcessEnv, errors: string[]): unknown {
  if (typeof v === 'string') {
    const m = ENV_REF.exec(v);
    if (!m) return v;
    const value = env[m[1]!];
    if (value === undefined) {
      errors.push(`${formatPath(path)}: environment variable ${m[1]} is not set`);
      return v;
    }
    return value;
  }
  if (Array.isArray(v)) return v.map((x, i) => resolveEnvRefs(x, [...path, i], env, errors));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = resolveEnvRefs(x, [...path, k], env, errors);
    return out;
  }
  return v;
}

/** Warnings for credentials written in the file itself rather than as `env:NAME`. */
function plainSecretWarnings(raw: FusionConfig, catalogues: Catalogues): string[] {
  const out: string[] = [];
  const check = (v: unknown, path: (string | number)[], factory?: ProviderFactory<any>) => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' && x !== '' && !ENV_REF.test(x) && secretField(factory, k)) {
        out.push(`${formatPath([...path, k])}: a credential written in the file; prefer "env:NAME" (the value is read from the environment at start)`);
      } else if (x && typeof x === 'object' && !Array.isArray(x)) check(x, [...path, k], factory);
    }
  };
  for (const ch of PROVIDER_CHANNELS) {
    for (const [name, entry] of Object.entries(raw.channels?.[ch]?.providers ?? {})) {
      check(entry, ['channels', ch, 'providers', name], factoryFor(catalogues, ch, String(entry?.type)));
    }
  }
  check(raw.channels?.webhook, ['channels', 'webhook']);
  check(raw.logging?.elasticsearch, ['logging', 'elasticsearch']);
  return out;
}

const isObject = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

function checkProviders(config: FusionConfig, catalogues: Catalogues, errors: string[]): void {
  for (const ch of PROVIDER_CHANNELS) {
    const c: ChannelConfig | undefined = isObject(config.channels) ? config.channels[ch] : undefined;
    if (!isObject(c)) continue;
    const providers = isObject(c.providers) ? c.providers : {};
    for (const [name, entry] of Object.entries(providers)) {
      const base = ['channels', ch, 'providers', name];
      if (!isObject(entry) || typeof entry.type !== 'string' || entry.type === DRY_RUN) continue;
      const factory = factoryFor(catalogues, ch, entry.type);
      if (!factory) {
        errors.push(`${formatPath([...base, 'type'])}: unknown provider type ${JSON.stringify(entry.type)} (known: ${knownTypes(catalogues, ch).join(', ')})`);
        continue;
      }
      const own: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(entry)) if (!COMMON_PROVIDER_FIELDS.includes(k)) own[k] = v;
      const validate = adapterValidator(factory);
      if (!validate(own)) errors.push(...ajvErrors(validate.errors, base));
    }
    const names = Object.keys(providers);
    for (const key of ['routes', 'otpRoutes'] as const) {
      for (const [route, list] of Object.entries(isObject(c[key]) ? c[key]! : {})) {
        if (!Array.isArray(list)) continue;
        list.forEach((p, i) => {
          if (typeof p === 'string' && p !== DRY_RUN && !Object.hasOwn(providers, p)) {
            errors.push(`${formatPath(['channels', ch, key, route, i])}: provider ${JSON.stringify(p)} is not configured in channels.${ch}.providers (configured: ${names.join(', ') || 'none'})`);
          }
        });
      }
    }
  }
  const r = isObject(config.channels) ? config.channels.reminder : undefined;
  if (isObject(r) && r.deliver === 'webhook' && !r.url) errors.push('channels.reminder.url: is required when deliver is "webhook"');
  const w = isObject(config.channels) ? config.channels.webhook : undefined;
  if (isObject(w) && typeof w.signingSecret === 'string') {
    try {
      signingKey(w.signingSecret);
    } catch (e) {
      errors.push(`channels.webhook.signingSecret: ${(e as Error).message}`);
    }
  }
  if (isObject(w) && isObject(w.callbackRetry) && isObject(w.callbackRetry.backoff)) {
    const problem = callbackRetryProblem({ backoff: w.callbackRetry.backoff });
    if (problem) errors.push(problem);
  }
}

function checkServer(config: FusionConfig, errors: string[]): void {
  const url = isObject(config.server) ? config.server.publicUrl : undefined;
  if (typeof url !== 'string' || url === '') return;
  try {
    parsePublicUrl(url);
  } catch (e) {
    errors.push(`server.publicUrl: ${(e as Error).message}`);
  }
}

/**
 * What the outgoing guard and the log shipper would refuse only once the process opens them (an
 * allow entry that is no CIDR, an unparsable pattern, a node that is no URL), named by field here,
 * with the other mistakes: exit 2 and the path, not a bare "Invalid URL" from deep inside the start.
 */
function checkOutgoingAndLogging(config: FusionConfig, errors: string[]): void {
  const o = isObject(config.outgoing) ? config.outgoing : {};
  (Array.isArray(o.allow) ? o.allow : []).forEach((entry: unknown, i: number) => {
    if (typeof entry !== 'string' || entry === '') return; // the shape's error already
    try {
      new OutgoingGuard({ allow: [entry] });
    } catch (e) {
      errors.push(`outgoing.allow[${i}]: ${(e as Error).message}`);
    }
  });
  if (typeof o.allowPattern === 'string') {
    try {
      new RegExp(o.allowPattern, 'i');
    } catch (e) {
      errors.push(`outgoing.allowPattern: ${(e as Error).message}`);
    }
  }
  const es = isObject(config.logging) && isObject(config.logging.elasticsearch) ? config.logging.elasticsearch : undefined;
  if (typeof es?.node === 'string' && es.node !== '') {
    let protocol = '';
    try {
      protocol = new URL(es.node).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') errors.push('logging.elasticsearch.node: must be an http or https URL (https://es.internal:9200)');
  }
}

/** Check a parsed config and resolve its env refs. Throws ConfigError naming every bad field. */
export function validateConfig(raw: unknown, opts: { env?: NodeJS.ProcessEnv; catalogues?: Catalogues; file?: string } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const catalogues = opts.catalogues ?? PROVIDER_CATALOGUES;
  // Every problem at once: the fixed shape's, then env refs, adapters and routes (checked defensively
  // where the shape is already wrong).
  const check = validateFixed();
  const errors: string[] = check(raw) ? [] : ajvErrors(check.errors, []);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(errors, opts.file);
  const config = resolveEnvRefs(raw, [], env, errors) as FusionConfig;
  checkProviders(config, catalogues, errors);
  checkServer(config, errors);
  checkOutgoingAndLogging(config, errors);
  if (errors.length) throw new ConfigError(errors, opts.file);
  const warnings = plainSecretWarnings(raw as FusionConfig, catalogues);
  return { config, warnings, file: opts.file ?? null };
}

/** The config file named by --config, else FUSION_CONFIG; a relative path resolves from the cwd. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | null {
  const p = flag ?? env.FUSION_CONFIG;
  return p ? resolve(cwd, p) : null;
}

/** Read and check the config file at `file` (absolute or relative to the cwd); null: no file, every channel dry-run. */
export function loadConfig(file: string | null, opts: { env?: NodeJS.ProcessEnv; catalogues?: Catalogues } = {}): LoadedConfig {
  if (!file) return { config: {}, warnings: [], file: null };
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], abs);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid JSON (${(err as Error).message})`], abs);
  }
  return validateConfig(raw, { ...opts, file: abs });
}

export const REDACTED = '***';

/**
 * A copy for display: every credential (an adapter's `secrets`, or any field named like a secret)
 * becomes "***". Flags and numbers stay (they hold no secret and say how things are set).
 */
export function redactConfig(config: FusionConfig, catalogues: Catalogues = PROVIDER_CATALOGUES): FusionConfig {
  const walk = (v: unknown, factory?: ProviderFactory<any>, nameMap = false): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, factory));
    if (!v || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // Keys of name maps (providers, routes) are names, not fields.
      if (!nameMap && secretField(factory, k) && (typeof x === 'string' || (x && typeof x === 'object'))) out[k] = REDACTED;
      else out[k] = walk(x, factory, k === 'routes' || k === 'otpRoutes');
    }
    return out;
  };
  const copy = walk(config) as FusionConfig;
  for (const ch of PROVIDER_CHANNELS) {
    const providers = config.channels?.[ch]?.providers;
    if (!providers) continue;
    const red: Record<string, ProviderEntry> = {};
    for (const [name, entry] of Object.entries(providers)) red[name] = walk(entry, factoryFor(catalogues, ch, entry.type)) as ProviderEntry;
    copy.channels![ch]!.providers = red;
  }
  return copy;
}

const list = (xs: string[] | undefined) => (xs && xs.length ? xs.join(' ') : 'any');

/** A retry policy in words, for the routing table's callbacks line. */
function backoffText(b: BackoffPolicy): string {
  if (b.type === 'fixed') return `${b.delay} ms apart`;
  if (b.type === 'list') return `delays ${b.delays.join(', ')} ms`;
  return `backoff from ${b.base ?? EXPONENTIAL_DEFAULTS.base} ms doubling to ${b.cap ?? EXPONENTIAL_DEFAULTS.cap} ms${b.jitter === false ? '' : ' (full jitter)'}`;
}

/** A span of time in the largest unit that keeps it readable (1.5 h, 4.3 min, 12 s). */
function duration(ms: number): string {
  if (ms >= 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  if (ms >= 60_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * The routing a config implies, as text for `fusion config check`: per channel its providers (type,
 * countries, rate limit, settings with credentials masked), routes and OTP routes in failover order,
 * failover policy; which channels run dry. `dryRun` is what the installed channels report.
 */
export function routingTable(config: FusionConfig, dryRun: string[], catalogues: Catalogues = PROVIDER_CATALOGUES): string {
  const red = redactConfig(config, catalogues);
  const lines: string[] = [];
  for (const ch of PROVIDER_CHANNELS) {
    const c = red.channels?.[ch];
    const providers = c?.providers ?? {};
    const names = Object.keys(providers);
    if (names.length === 0) {
      lines.push(`${ch}: dry-run (no provider configured)`);
      continue;
    }
    lines.push(`${ch}:${dryRun.includes(ch) ? ' dry-run' : ''}`);
    lines.push('  providers:');
    const width = Math.max(...names.map((n) => n.length));
    for (const [name, p] of Object.entries(providers)) {
      const settings = Object.entries(p)
        .filter(([k]) => !COMMON_PROVIDER_FIELDS.includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? redactUrl(v) : JSON.stringify(v)}`);
      const flags = [p.selectable === false ? 'not selectable' : '', p.allowPayloadCredentials ? 'payload credentials allowed' : ''].filter(Boolean);
      lines.push(
        `    ${name.padEnd(width)}  type ${p.type}  countries ${list(p.countries)}  rate ${p.ratePerSecond ? `${p.ratePerSecond}/s` : 'unlimited'}` +
          (flags.length ? `  (${flags.join(', ')})` : '') +
          (settings.length ? `  ${settings.join(' ')}` : ''),
      );
    }
    const describe = (n: string) => {
      const p = providers[n];
      if (!p) return `${n} (dry-run)`;
      return `${n} [${p.type}; countries ${list(p.countries)}; rate ${p.ratePerSecond ? `${p.ratePerSecond}/s` : 'unlimited'}]`;
    };
    const routes = (title: string, map: Record<string, string[]> | undefined, none: string) => {
      lines.push(`  ${title}:`);
      const entries = Object.entries(map ?? {});
      if (entries.length === 0) lines.push(`    ${none}`);
      const w = Math.max(0, ...entries.map(([k]) => k.length));
      for (const [k, ps] of entries) lines.push(`    ${k.padEnd(w)} -> ${ps.map(describe).join(' -> ')}`);
    };
    routes('routes', c?.routes, `none: every provider, in the order listed (${names.join(' -> ')})`);
    routes('otp routes', c?.otpRoutes, 'none: OTPs follow the routes');
    const f = c?.failover ?? {};
    lines.push(
      `  failover: demote a provider after ${f.threshold ?? 5} retryable failures` +
        `${f.windowMs ? ` within ${f.windowMs} ms` : ''}, skip it for ${f.cooldownMs ?? 300_000} ms`,
    );
  }
  const w = red.channels?.webhook;
  const breaker = hostBreakerSettings(w?.breaker);
  const breakerText = breaker.threshold > 0
    ? `breaker per host after ${breaker.threshold} timeouts or connection failures within ${breaker.windowMs} ms, open ${breaker.cooldownMs} ms`
    : 'breaker off';
  const slow = slowHostSettings(w?.slowHost);
  const slowText = slow.limit > 0 ? `a slow host (an answer after ${slow.afterMs} ms) at most ${slow.limit} requests at once a process` : 'no limit for slow hosts';
  lines.push(`webhook: signing ${w?.signingSecret ? `secret ${REDACTED}` : 'off (no signingSecret)'}, timeout ${w?.timeoutSeconds ?? 15} s, ${breakerText}, ${slowText}`);
  const retry = callbackRetry(red);
  const span = retrySpanMs(retry.backoff, retry.maxAttempts);
  lines.push(`callbacks: ${retry.maxAttempts} attempts, ${backoffText(retry.backoff)}: retried for ${duration(span.expectedMs)} on average, ${duration(span.maxMs)} at most; ${retry.maxStalls} lost leases`);
  lines.push(consentRule(red.channels?.whatsapp).text);
  const r = red.channels?.reminder;
  lines.push(`reminder: deliver ${r?.deliver === 'webhook' ? `webhook to ${redactUrl(r.url ?? '')}` : 'dry-run'}`);
  const o = red.outgoing;
  lines.push(`outgoing: private addresses refused; allowed: ${o?.allow?.join(', ') || 'none'}${o?.allowPattern ? `; host pattern ${o.allowPattern}` : ''}`);
  const es = red.logging?.elasticsearch;
  lines.push(`logging: level ${red.logging?.level ?? 'info'}; elasticsearch ${es ? `${redactUrl(es.node)} index ${es.index ?? 'fusion'}${es.auth ? ` auth ${REDACTED}` : ''}` : 'off'}`);
  const publicUrl = red.server?.publicUrl;
  lines.push(`server: ${publicUrl ? `public URL ${publicUrl}, signed callbacks checked against it` : 'no public URL, signed callbacks checked against the URL each request arrived at'}`);
  lines.push(`channels in dry-run: ${dryRun.length ? dryRun.join(', ') : 'none'}`);
  return lines.join('\n') + '\n';
}

