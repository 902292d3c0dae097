// The push channel: task `push` on queue `pn`. A job's tokens are split by platform (Android → FCM,
// iOS → APNs); each platform part goes through its own delivery pipeline (providers of that
// platform, routes `channels.push.routes.android|ios`, failover, demotion, rate limits), one provider
// per attempt.
//
// Per-token state across attempts lives in the job's progress (`progress.push.tokens`, keyed
// `<platform>:<token>`): it is written after every attempt, kept by both stores across retries and
// shown by the API, so no second record has to be cleaned up. An attempt sends only to tokens
// that have no outcome yet or failed retryably; tokens sent or refused for good are not sent again
// once the progress holding them is stored (a run that ends before that sends them again).
// The job completes when no token is left to retry (its result lists every token's outcome and the
// invalid ones); it retries (RetryableError semantics, the engine's backoff) while some failed
// retryably; it fails when no token was sent and none can be.
//
// Tokens a platform calls invalid or unregistered are `invalid` in the result (`invalidTokens`),
// logged, written to the job's log, and emitted as `push.token-invalid` on `pushEvents`, so an API
// or app process can subscribe and prune them.
import { EventEmitter } from 'node:events';
import { FusionError, NonRetryableError, SnoozeError, snoozeDelayOf } from '../../core/errors.js';
import type { TaskContext } from '../../core/registry.js';
import type { ChannelDeps, ChannelSetup } from '../channel.js';
import type { ChannelConfig, ProviderEntry } from '../config-types.js';
import { DeliveryError, DeliveryPipeline } from '../delivery.js';
import { DRY_RUN } from '../dry-run.js';
import type { Provider, ProviderFactory, SendResult } from '../provider.js';
import { CHANNEL_QUEUES } from '../queues.js';
import { apnsFactory } from './apns.js';
import { fcm } from './fcm.js';
import type { Platform, PushMessage, PushSendRaw, TokenResult } from './message.js';
import { parsePushPayload, type ParsedPush } from './payload.js';

export const PUSH_TASK = 'push';
export const TOKEN_INVALID_EVENT = 'push.token-invalid';

export interface TokenInvalidEvent {
  jobId: string;
  platform: Platform;
  provider: string;
  /** The device token the app should drop. */
  device: string;
  reason: string;
  at: number;
}

/** `push.token-invalid` events of every push channel in this process. */
export const pushEvents = new EventEmitter();
pushEvents.setMaxListeners(100);

const PLATFORMS: Platform[] = ['android', 'ios'];
const keyOf = (platform: Platform, device: string) => `${platform}:${device}`;
/** Show a device token in logs by its ends only: enough to find it, too little to use it. */
export const maskDevice = (t: string) => (t.length <= 12 ? '*'.repeat(t.length) : `${t.slice(0, 6)}…${t.slice(-4)}`);

type PushFactory = ProviderFactory<PushMessage> & { platform?: Platform };

interface PushProgress {
  push?: { tokens?: Record<string, TokenResult> };
}

/** The platform a configured provider serves: the entry's `platform`, else its adapter's. */
function platformOf(entry: ProviderEntry, factories: PushFactory[]): Platform | undefined {
  if (entry.platform === 'android' || entry.platform === 'ios') return entry.platform;
  return factories.find((f) => f.type === entry.type)?.platform;
}

/** One platform's view of channels.push: its providers, and its route as the default route. */
function platformConfig(config: ChannelConfig, platform: Platform, factories: PushFactory[]): ChannelConfig {
  const providers = Object.fromEntries(Object.entries(config.providers ?? {}).filter(([, e]) => platformOf(e, factories) === platform)
    .map(([n, e]) => [n, Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'platform')) as ProviderEntry]));
  const route = config.routes?.[platform] ?? config.routes?.default?.filter((n) => n in providers);
  return { providers, ...(route ? { routes: { default: route } } : {}), ...(config.failover ? { failover: config.failover } : {}) };
}

function dryRunPush(log: (m: PushMessage) => void): Provider<PushMessage> {
  return {
    name: DRY_RUN,
    type: DRY_RUN,
    async send(m): Promise<SendResult> {
      log(m);
      const results: TokenResult[] = m.part.tokens.map((device, i) => ({ platform: m.platform, device, status: 'sent', provider: DRY_RUN, messageId: `dry-${i}` }));
      return { messageId: `dry-${m.platform}`, status: 'sent', raw: { results } satisfies PushSendRaw };
    },
  };
}

export function pushChannel(deps: ChannelDeps): ChannelSetup & { events: EventEmitter } {
  const factories: PushFactory[] = [fcm, apnsFactory(deps.guard), ...((deps.factories ?? []) as PushFactory[]).filter((f) => f.channel === 'push')];
  const config = deps.config.channels?.push ?? {};
  for (const [name, entry] of Object.entries(config.providers ?? {})) {
    if (factories.some((f) => f.type === entry.type) && !platformOf(entry, factories)) {
      throw new FusionError('invalid_config', `push provider "${name}": say which platform it serves ("platform": "android" or "ios")`, { field: `channels.push.providers.${name}.platform` });
    }
  }
  const pipelines = Object.fromEntries(PLATFORMS.map((platform) => [platform, new DeliveryPipeline<PushMessage>({
    channel: 'push',
    config: platformConfig(config, platform, factories),
    factories,
    deps,
    dryRun: dryRunPush((m) => deps.logger.info({ channel: 'push', provider: DRY_RUN, platform: m.platform, tokens: m.part.tokens.length, title: m.part.title ?? null }, 'dry-run: push not sent (no provider configured)')),
  })])) as Record<Platform, DeliveryPipeline<PushMessage>>;
  const configured = PLATFORMS.some((p) => !pipelines[p].dryRun);

  const validate = (payload: unknown) => void parsePushPayload(payload);
  // Original clients send android.api_key with every push: said once a process, not once a job.
  let legacyKeyTold = false;
  const tellLegacyKey = (jobId: string) => {
    if (legacyKeyTold) return;
    legacyKeyTold = true;
    deps.logger.warn({ channel: 'push', jobId, field: 'android.api_key' },
      'push: android.api_key (an FCM legacy server key) is ignored: Android devices go through the configured FCM v1 provider (channels.push.providers); said once per process');
  };

  const handler = async (payload: unknown, ctx: TaskContext) => {
    let parsed: ParsedPush;
    try {
      parsed = parsePushPayload(payload);
    } catch (e) {
      if (e instanceof FusionError) throw new NonRetryableError(`invalid push payload: ${e.message}${e.details.field ? ` (field ${String(e.details.field)})` : ''}`);
      throw e;
    }
    if (parsed.legacyKey) tellLegacyKey(ctx.job.id);
    const state: Record<string, TokenResult> = { ...((ctx.job.progress as PushProgress | null)?.push?.tokens ?? {}) };
    const fresh: TokenResult[] = [];
    let whole: DeliveryError | null = null;
    // A platform whose provider is over its send rate (DeliveryPipeline.bookSlot): its devices wait,
    // untried (no result of this attempt), and the job is snoozed once the others are recorded.
    let snoozed: unknown = null;

    for (const platform of PLATFORMS) {
      const part = parsed[platform];
      if (!part) continue;
      const pending = part.tokens.filter((t) => {
        const prev = state[keyOf(platform, t)];
        return !prev || (prev.status === 'failed' && prev.retryable);
      });
      if (pending.length === 0) continue;
      const pipeline = pipelines[platform];
      if (configured && pipeline.dryRun) {
        // Some platform has a provider, this one none: sending it dry would claim a delivery that never happened.
        for (const device of pending) fresh.push({ platform, device, status: 'failed', code: 'no_provider', retryable: false, error: `no ${platform} push provider is configured (channels.push.providers)` });
        continue;
      }
      const message = { platform, part: { ...part, tokens: pending } } as PushMessage;
      try {
        const sent = await pipeline.deliver(message, { country: platform, requested: parsed.provider }, ctx);
        // deliver() keeps only a capped copy of the answer; the whole per-token list is handed over by the wrapped provider.
        const raw = lastRaw.get(ctx.job.id + platform);
        lastRaw.delete(ctx.job.id + platform);
        const results = raw?.results ?? pending.map((device) => ({ platform, device, status: 'sent' as const, provider: sent.provider, messageId: sent.messageId }));
        fresh.push(...results);
      } catch (err) {
        lastRaw.delete(ctx.job.id + platform);
        if (snoozeDelayOf(err) !== undefined) {
          snoozed ??= err;
          continue;
        }
        if (!(err instanceof DeliveryError)) throw err;
        whole ??= err;
        for (const device of pending) fresh.push({ platform, device, status: 'failed', provider: err.details.provider, code: err.code, retryable: err.retryable, error: err.message });
      }
    }

    const now = deps.clock.now();
    for (const r of fresh) {
      r.attempt = ctx.attempt;
      state[keyOf(r.platform, r.device)] = r;
      if (r.status === 'invalid') {
        const ev: TokenInvalidEvent = { jobId: ctx.job.id, platform: r.platform, provider: r.provider ?? 'unknown', device: r.device, reason: r.code ?? 'invalid', at: now };
        deps.logger.warn({ channel: 'push', jobId: ev.jobId, platform: ev.platform, provider: ev.provider, device: maskDevice(ev.device), reason: ev.reason }, TOKEN_INVALID_EVENT);
        await ctx.log(`${TOKEN_INVALID_EVENT}: ${ev.platform} token ${maskDevice(ev.device)} (${ev.reason}) via ${ev.provider}`);
        pushEvents.emit(TOKEN_INVALID_EVENT, ev);
      }
    }
    await ctx.progress({ push: { tokens: state } } satisfies PushProgress);
    // Devices wait for a send slot (untried: no result). Put the job off, no attempt spent (the devices
    // sent are in its progress), unless others failed retryably and an attempt is left: then the retry,
    // with its backoff and failover, takes the waiting devices along. A snooze waits at least as long as
    // those failures asked.
    if (snoozed) {
      const failedNow = fresh.filter((r) => r.status === 'failed' && r.retryable);
      if (failedNow.length === 0 || ctx.job.attempts >= ctx.job.maxAttempts) {
        const after = Math.max(snoozeDelayOf(snoozed)!, ...failedNow.map((r) => r.retryAfterMs ?? 0));
        throw new SnoozeError(after, (snoozed as Error).message);
      }
    }

    // Devices waiting for a send slot have no result yet: the retry below sends them.
    const all = PLATFORMS.flatMap((p) => (parsed[p]?.tokens ?? []).flatMap((t) => state[keyOf(p, t)] ?? []));
    const sent = all.filter((r) => r.status === 'sent');
    const invalid = all.filter((r) => r.status === 'invalid');
    const retrying = all.filter((r) => r.status === 'failed' && r.retryable);
    const failed = all.filter((r) => r.status === 'failed' && !r.retryable);
    const summary = { sent: sent.length, invalid: invalid.length, failed: failed.length, retrying: retrying.length };

    if (retrying.length > 0) {
      if (whole && retrying.every((r) => r.code === whole!.code)) throw whole; // the provider's own failure: fail over
      const first = retrying[0]!;
      const after = Math.max(0, ...retrying.map((r) => r.retryAfterMs ?? 0));
      // Some tokens went through: the provider works, so the next attempt stays on it for the rest.
      throw new DeliveryError(`push: ${retrying.length} of ${all.length} token(s) failed retryably (${first.code}); the next attempt sends to those only`,
        { provider: first.provider ?? 'unknown', code: first.code ?? 'provider_error', retryable: true, failover: sent.length === 0 && !!whole, ...summary }, after > 0 ? after : undefined);
    }
    if (sent.length === 0) {
      const first = failed[0] ?? invalid[0]!;
      throw new DeliveryError(`push: no token could be sent (${summary.invalid} invalid, ${summary.failed} refused: ${first.code})`,
        { provider: first.provider ?? 'unknown', code: invalid.length === all.length ? 'invalid_tokens' : first.code ?? 'push_failed', retryable: false, ...summary, invalidTokens: invalid.map((r) => r.device) });
    }
    const providers = [...new Set(sent.map((r) => r.provider!))];
    return {
      channel: 'push',
      provider: providers.join(','),
      messageId: sent[0]!.messageId,
      status: 'sent',
      ...summary,
      invalidTokens: invalid.map((r) => r.device),
      results: all,
    };
  };

  // The pipeline copies the provider's answer into a capped string; the channel wants it whole, so
  // each provider is wrapped to hand its raw results over here, keyed by job and platform.
  const lastRaw = new Map<string, PushSendRaw>();
  for (const platform of PLATFORMS) {
    const pipeline = pipelines[platform];
    const wrap = (p: Provider<PushMessage>): Provider<PushMessage> => {
      const send = p.send.bind(p);
      p.send = async (m, c) => {
        const r = await send(m, c);
        if (r.raw) lastRaw.set(c.jobId + platform, r.raw as PushSendRaw);
        return r;
      };
      return p;
    };
    for (const p of pipeline.providers.values()) wrap(p);
    const dry = pipeline.provider(DRY_RUN);
    if (dry) wrap(dry);
  }

  const providers: Record<string, Provider> = {};
  for (const p of PLATFORMS) for (const [n, prov] of pipelines[p].providers) providers[n] = prov as Provider;
  return {
    tasks: [{ name: PUSH_TASK, handler, options: { queue: CHANNEL_QUEUES.push, validate } }],
    dryRun: !configured,
    providers,
    events: pushEvents,
  };
}
