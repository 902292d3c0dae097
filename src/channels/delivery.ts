// The delivery pipeline every channel with providers shares (sms now; email, push, whatsapp later):
// providers built once from config, a route per calling code (or "default", OTPs on their own
// routes), the payload's provider choice, country whitelists, failover to the next provider after a
// retryable failure, demotion of a failing provider for all workers, and per-provider send rates
// shared by all workers. One attempt = one provider: retries and backoff are the engine's, so a
// failover is simply the next attempt starting at the next provider of the route.
import { snoozesInARow, type JobError } from '../core/job.js';
import type { TaskContext } from '../core/registry.js';
import type { SharedState } from '../core/store.js';
import { FusionError, SnoozeError, isRetryable, retryAfterOf } from '../core/errors.js';
import type { ChannelDeps } from './channel.js';
import type { ChannelConfig, ProviderEntry } from './config-types.js';
import { ProviderError, type ChannelName, type DeliveryStatus, type Provider, type ProviderFactory, type RefusedRecipient } from './provider.js';
import { capText } from './http/answer.js';
import { DRY_RUN } from './dry-run.js';
import { deliveryOf, recordSent } from './delivery-status.js';
import { statsRecorder, type StatsRecorder } from './provider-stats.js';

export const FAILOVER_DEFAULTS = { threshold: 5, windowMs: 60_000, cooldownMs: 5 * 60_000 };
/**
 * Longest an attempt waits for a send slot under a provider's ratePerSecond, holding its worker slot;
 * past it the job is snoozed (no attempt spent) until its slot would be that near. Slots are taken
 * in turn, so every message waiting holds one ahead of a message that comes later: bulk messages
 * (a campaign) may hold them only a short way ahead, and an OTP, which may wait longer, finds the
 * next free slot near.
 */
export const DEFAULT_MAX_RATE_WAIT_MS = 1_000;
export const OTP_MAX_RATE_WAIT_MS = 10_000;
/** A job snoozed for a send slot comes back no sooner than this. */
const RATE_SNOOZE_MIN_MS = 1_000;
/**
 * How far ahead the line of snoozed messages may be booked. A message whose place would be later
 * comes back when the line is that near and books then, so places left by messages cancelled while
 * they waited are gone within this long.
 */
const LINE_AHEAD_MS = 60_000;
/**
 * How long after its send slot a message may still go out: one whose preparation (email's
 * attachments) ends later takes a new slot, so sends stay spaced at the rate however long each
 * preparation takes.
 */
const SLOT_GRACE_MS = 20;
/** Fields of a provider entry that are the pipeline's, not the adapter's. */
const COMMON_FIELDS = new Set(['type', 'countries', 'ratePerSecond', 'selectable', 'allowPayloadCredentials']);

/** What routing needs to know of a message. */
export interface DeliveryTarget {
  /** The calling code routes are keyed by, with its + (e.g. "+91"). */
  country?: string;
  otp?: boolean;
  /** A provider the payload asks for (name, or adapter type as the original's `config.provider: "msg91"`). */
  requested?: string;
}

export interface DeliveryResult {
  channel: ChannelName;
  provider: string;
  messageId: string;
  status: DeliveryStatus;
  /** The provider's answer, size-capped. */
  response?: string;
  /** Recipients the provider refused while it took the message for the others. */
  refused?: RefusedRecipient[];
}

export interface FailureDetails {
  provider: string;
  code: string;
  retryable: boolean;
  status?: number;
  /** false: the next attempt stays on this provider (e.g. our own rate limit, not the provider's fault). */
  failover?: boolean;
  [k: string]: unknown;
}

/** A failed attempt: the provider's classification plus `details` the worker keeps in job.error (read by the next attempt). */
export class DeliveryError extends ProviderError {
  override name = 'DeliveryError';
  readonly details: FailureDetails;
  constructor(message: string, details: FailureDetails, retryAfterMs?: number) {
    super(message, { code: details.code, retryable: details.retryable, retryAfterMs, status: details.status });
    this.details = details;
  }
}

export interface PipelineOptions<M> {
  channel: ChannelName;
  config?: ChannelConfig;
  factories: ProviderFactory<M>[];
  deps: Pick<ChannelDeps, 'dispatcher' | 'store' | 'clock' | 'logger' | 'pipelines'>;
  /** The provider used while none is configured. */
  dryRun: Provider<M>;
  maxRateWaitMs?: number;
}

const plusCode = (c: string) => (c.startsWith('+') ? c : `+${c}`);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class DeliveryPipeline<M> {
  readonly channel: ChannelName;
  /** Configured providers by name, built once. */
  readonly providers = new Map<string, Provider<M>>();
  readonly dryRun: boolean;
  private readonly entries = new Map<string, ProviderEntry>();
  private readonly config: ChannelConfig;
  private readonly failover: typeof FAILOVER_DEFAULTS;
  private readonly shared: SharedState | undefined;
  private readonly maxRateWaitMs: number;
  private readonly stats: StatsRecorder;

  constructor(private readonly opts: PipelineOptions<M>) {
    this.channel = opts.channel;
    this.config = opts.config ?? {};
    this.failover = { ...FAILOVER_DEFAULTS, ...stripUndefined(this.config.failover ?? {}) };
    this.shared = opts.deps.store.shared;
    this.maxRateWaitMs = opts.maxRateWaitMs ?? DEFAULT_MAX_RATE_WAIT_MS;
    const bad = (field: string, message: string) => new FusionError('invalid_config', message, { field: `channels.${this.channel}.${field}` });
    for (const [name, entry] of Object.entries(this.config.providers ?? {})) {
      if (entry.type === DRY_RUN) {
        // A provider configured as dry-run (e.g. to route one country nowhere while testing) sends nothing.
        this.providers.set(name, { ...opts.dryRun, name });
        this.entries.set(name, entry);
        continue;
      }
      const factory = opts.factories.find((f) => f.type === entry.type && f.channel === this.channel);
      if (!factory) {
        const known = opts.factories.filter((f) => f.channel === this.channel).map((f) => f.type);
        throw bad(`providers.${name}.type`, `${this.channel} provider "${name}": unknown type "${entry.type}" (known: ${known.join(', ') || 'none'})`);
      }
      const own = Object.fromEntries(Object.entries(entry).filter(([k]) => !COMMON_FIELDS.has(k)));
      this.providers.set(name, factory.create(name, own));
      this.entries.set(name, entry);
    }
    for (const key of ['routes', 'otpRoutes'] as const) {
      for (const [code, names] of Object.entries(this.config[key] ?? {})) {
        for (const n of names) {
          // "dry-run" in a route names the built-in dry-run provider unless one is configured by that name.
          if (n === DRY_RUN && !this.providers.has(n)) this.providers.set(n, opts.dryRun);
        }
        for (const n of names) if (!this.providers.has(n)) throw bad(`${key}.${code}`, `${key}["${code}"] names provider "${n}", which is not configured`);
      }
    }
    this.dryRun = [...this.entries.values()].every((e) => e.type === DRY_RUN);
    this.stats = statsRecorder(opts.deps.store);
    // GET /v1/providers and the provider events find every channel's pipeline here.
    opts.deps.pipelines?.push(this);
  }

  /** Configured providers with what may be shown of them (never credentials), and the routes each is on. */
  describe(): { name: string; type: string; countries: string[] | null; ratePerSecond: number | null; routes: string[] }[] {
    const names = this.dryRun ? [DRY_RUN] : [...this.entries.keys()];
    return names.map((name) => {
      const e = this.entries.get(name);
      const routes: string[] = [];
      for (const [key, prefix] of [['routes', ''], ['otpRoutes', 'otp:']] as const) {
        for (const [code, list] of Object.entries(this.config[key] ?? {})) if (list.includes(name)) routes.push(prefix + code);
      }
      return {
        name,
        type: e?.type ?? DRY_RUN,
        countries: e?.countries ?? null,
        ratePerSecond: typeof e?.ratePerSecond === 'number' ? e.ratePerSecond : null,
        routes,
      };
    });
  }

  /** When a provider's demotion ends, or null when it is not demoted. */
  async demotedUntil(name: string, now: number): Promise<number | null> {
    return this.shared ? this.shared.flagged(this.demotedKey(name), now) : null;
  }

  /** Provider instance by name (dry-run included), for delivery reports. */
  provider(name: string): Provider<M> | undefined {
    return name === DRY_RUN && this.dryRun ? this.opts.dryRun : this.providers.get(name);
  }

  /** Resolve a payload's provider choice to a configured name: by name, else by adapter type. */
  private requested(req: string | undefined): string | undefined {
    if (!req) return undefined;
    const name = this.providers.has(req) ? req : [...this.entries].find(([, e]) => e.type === req)?.[0];
    return name && this.entries.get(name)!.selectable !== false ? name : undefined;
  }

  /** Whether a provider's whitelist lets it send to a calling code. */
  serves(name: string, country: string | undefined): boolean {
    const list = this.entries.get(name)?.countries;
    if (!list || list.length === 0 || !country) return true;
    return list.some((c) => plusCode(c.trim()) === country);
  }

  /** The providers of a message's route, in order, before failover and demotion. */
  route(target: DeliveryTarget): string[] {
    const country = target.country;
    const pick = (routes?: Record<string, string[]>) => routes && ((country && routes[country]) || routes.default);
    let names = (target.otp ? pick(this.config.otpRoutes) : undefined) ?? pick(this.config.routes) ?? [...this.providers.keys()];
    const req = this.requested(target.requested);
    // The payload's provider goes first when it serves this number; when it does not, the number's
    // own route applies (the original: a non-+91 number asking for msg91 went to SNS instead).
    if (req && this.serves(req, country)) names = [req, ...names.filter((n) => n !== req)];
    const serving = names.filter((n) => this.serves(n, country));
    if (serving.length === 0) {
      const named = req ?? names[0] ?? target.requested ?? 'none';
      throw new DeliveryError(`countryCode is not whitelisted for provider ${named}`, { provider: named, code: 'country_not_whitelisted', retryable: false });
    }
    return serving;
  }

  /** The provider this attempt uses: after the one the previous attempt failed on, skipping demoted ones. */
  async choose(target: DeliveryTarget, previous: JobError | null, now: number): Promise<string> {
    let order = this.route(target);
    const prev = previous?.details?.provider;
    if (previous?.retryable && previous.details?.failover !== false && typeof prev === 'string') {
      const i = order.indexOf(prev);
      if (i >= 0) order = [...order.slice(i + 1), ...order.slice(0, i + 1)];
    }
    if (order.length === 1 || !this.shared) return order[0]!;
    const shared = this.shared;
    const until = await Promise.all(order.map((n) => shared.flagged(this.demotedKey(n), now)));
    const up = order.findIndex((_, i) => until[i] === null);
    if (up >= 0) return order[up]!;
    // Every provider of the route is demoted: never stall, use the one demoted longest ago.
    let best = 0;
    for (let i = 1; i < order.length; i++) if (until[i]! < until[best]!) best = i;
    return order[best]!;
  }

  private demotedKey(name: string) {
    return `provider:demoted:${this.channel}:${name}`;
  }

  /** Whether a provider is demoted now (for tests and status pages). */
  async demoted(name: string): Promise<boolean> {
    return this.shared ? (await this.shared.flagged(this.demotedKey(name), this.opts.deps.clock.now())) !== null : false;
  }

  /**
   * The message an earlier run of this job had a provider take, or null. A run can end after the
   * provider's 2xx without its outcome landing (its worker killed, its lease run out) or fail after
   * it (the callback job not added): a channel whose job is one message answers this send rather
   * than make another (email, whose job may take several sends, one per deferral, answers it when
   * its progress does not hold it yet; the recipients refused come with it). It is recorded right
   * after the answer, so only a death between the two sends again. Stores without shared state keep
   * no record.
   */
  async earlierSend(ctx: TaskContext): Promise<DeliveryResult | null> {
    if (this.dryRun) return null;
    const rec = await deliveryOf(this.opts.deps.store, ctx.job.id, this.opts.deps.clock.now());
    // A job removed and added again under the same id is a new message.
    if (!rec || rec.channel !== this.channel || rec.sentAt < ctx.job.createdAt) return null;
    return { channel: this.channel, provider: rec.provider, messageId: rec.messageId, status: rec.status, ...(rec.refused ? { refused: rec.refused } : {}) };
  }

  /**
   * Send one message: one provider per attempt; throws DeliveryError on failure. `prepare` completes
   * the message (email's attachments) once its send slot is booked, while the slot comes: a message
   * the send rate puts off (snoozed) fetches nothing it would throw away, and one whose preparation
   * outlasts its slot books another, so the rate spaces the sends themselves.
   */
  async deliver(message: M, target: DeliveryTarget, ctx: TaskContext, prepare?: (message: M) => Promise<void>): Promise<DeliveryResult> {
    const { clock } = this.opts.deps;
    const name = this.dryRun ? DRY_RUN : await this.choose(target, ctx.job.error, clock.now());
    const provider = this.dryRun ? this.opts.dryRun : this.providers.get(name)!;
    const otp = target.otp === true;
    let slot = this.dryRun ? null : await this.bookSlot(name, otp, ctx, false);
    if (prepare) {
      await prepare(message);
      if (slot !== null && clock.now() > slot + SLOT_GRACE_MS) slot = await this.bookSlot(name, otp, ctx, true);
    }
    if (slot !== null && slot > clock.now()) await sleep(slot - clock.now(), ctx.signal);
    let sent;
    const t0 = performance.now();
    try {
      sent = await provider.send(message, { signal: ctx.signal, dispatcher: this.opts.deps.dispatcher, now: () => clock.now(), jobId: ctx.job.id, attempt: ctx.attempt });
    } catch (err) {
      // Our own cancellation or timeout is not the provider's failure.
      if (!ctx.signal.aborted) this.stats.record(this.channel, name, 'failed', clock.now(), performance.now() - t0);
      throw await this.failure(name, err, ctx.signal);
    }
    this.stats.record(this.channel, name, 'sent', clock.now(), performance.now() - t0);
    if (!this.dryRun) {
      await recordSent(this.opts.deps.store, { jobId: ctx.job.id, channel: this.channel, provider: name, messageId: sent.messageId, status: sent.status, refused: sent.refused }, clock.now());
    }
    const result: DeliveryResult = { channel: this.channel, provider: name, messageId: sent.messageId, status: sent.status };
    if (sent.raw !== undefined) result.response = capText(typeof sent.raw === 'string' ? sent.raw : JSON.stringify(sent.raw) ?? '');
    if (sent.refused?.length) result.refused = sent.refused;
    return result;
  }

  /**
   * Book a send slot under the provider's ratePerSecond, at most its longest wait away, and answer
   * its time (null: the provider has no rate); or snooze the job: a burst bigger than the
   * provider's rate allows within the longest wait (a campaign on many workers) is put off, not
   * failed, whatever its attempts. A snoozed message holds no slot, so it takes a place
   * in a line, spaced at the same rate (OTPs in a line of their own): it comes back when its turn
   * there (and the next free slot) is near enough to wait for. So a campaign costs about one snooze
   * a message, and its messages go in about the order they came: a message new to the provider joins
   * the line while there is one, rather than take a slot before those waiting in it.
   */
  private async bookSlot(name: string, otp: boolean, ctx: TaskContext, again: boolean): Promise<number | null> {
    const rate = this.rateOf(name, otp);
    if (!rate) return null;
    const { rps, shared, key, line, maxWaitMs } = rate;
    const now = this.opts.deps.clock.now();
    const snooze = (turn: number, spread: number) => {
      const delay = Math.round(Math.max(RATE_SNOOZE_MIN_MS, turn - maxWaitMs) + spread * Math.random());
      return new SnoozeError(delay, `${name}: over its send rate of ${rps}/s (its turn is ${turn} ms away); again in ${delay} ms`);
    };
    // A place in the line, no sooner than `from` ms from now: the snooze until it is near. Places are
    // spaced already, so only a message whose place is now (an empty line) gets a little spread, so
    // those put off together do not all come back at once. Past LINE_AHEAD_MS nothing is booked:
    // the message comes back when the line is that near, spread over a tenth of its wait.
    const bookLine = async (from: number) => {
      const place = await shared.take(line, rps, LINE_AHEAD_MS, now + from);
      if (place < 0) {
        const later = from - place - LINE_AHEAD_MS;
        return snooze(later + maxWaitMs, 0.1 * later);
      }
      return snooze(from + place, place === 0 ? Math.min(500, 0.1 * from) : 0);
    };
    // A message back from a snooze has waited its turn, and so has one booking `again` (its
    // preparation outlasted the slot it had). One new to the provider joins the line while the line
    // is ahead of now (a look, maxWait -1, books nothing), rather than take a free slot before the
    // messages waiting in it. One booking again waits as long as an OTP may rather than be snoozed:
    // it is ready to go, and a snooze would throw its preparation away.
    if (!again && snoozesInARow(ctx.job) === 0 && (await shared.take(line, rps, -1, now)) < 0) throw await bookLine(0);
    const wait = await shared.take(key, rps, again ? Math.max(OTP_MAX_RATE_WAIT_MS, maxWaitMs) : maxWaitMs, now);
    if (wait < 0) throw await bookLine(-wait);
    return now + wait;
  }

  /** A provider's send rate, its keys in the shared state and the longest wait for a slot; null without one. */
  private rateOf(name: string, otp: boolean) {
    const rps = this.entries.get(name)?.ratePerSecond;
    const shared = this.shared;
    if (!rps || rps <= 0 || !shared) return null;
    const key = `provider:rate:${this.channel}:${name}`;
    const line = `${key}:line${otp ? ':otp' : ''}`;
    const maxWaitMs = otp ? Math.max(OTP_MAX_RATE_WAIT_MS, this.maxRateWaitMs) : this.maxRateWaitMs;
    return { rps, shared, key, line, maxWaitMs };
  }

  /** Classify a failed send, count it against the provider's health, and wrap it with details. */
  private async failure(name: string, err: unknown, signal: AbortSignal): Promise<DeliveryError> {
    const pe = err instanceof ProviderError
      ? err
      : new ProviderError((err as Error)?.message ?? String(err), { code: 'provider_error', retryable: isRetryable(err), retryAfterMs: retryAfterOf(err) });
    // Our own cancellation or timeout says nothing about the provider's health.
    if (pe.retryable && !signal.aborted && !this.dryRun && this.shared) await this.countFailure(name);
    const details: FailureDetails = { provider: name, code: pe.code, retryable: pe.retryable };
    if (pe.status !== undefined) details.status = pe.status;
    return new DeliveryError(`${name}: ${pe.message}`, details, pe.retryAfterMs);
  }

  private async countFailure(name: string): Promise<void> {
    const { threshold, windowMs, cooldownMs } = this.failover;
    const now = this.opts.deps.clock.now();
    const n = await this.shared!.hit(`provider:failures:${this.channel}:${name}`, windowMs, now);
    // Exactly one failure (in one process) crosses the threshold: it demotes and says so.
    if (n === threshold) {
      await this.shared!.flag(this.demotedKey(name), now + cooldownMs, now);
      this.opts.deps.logger.warn({ channel: this.channel, provider: name, failures: n, windowMs, cooldownMs }, 'provider demoted: skipped until its cooldown ends');
    }
  }

  /** The provider entry's config (common fields included), for the channel's own checks. */
  entry(name: string): ProviderEntry | undefined {
    return this.entries.get(name);
  }

  /** The configured name a payload's provider choice resolves to (selectable ones only). */
  resolveRequested(req: string | undefined): string | undefined {
    return this.requested(req);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
