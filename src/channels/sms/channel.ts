// The sms channel: tasks `sms` and `sms.otp` (same queue, OTPs at high priority and on the OTP
// route), payloads checked at enqueue, delivered through the shared pipeline (routes, failover,
// demotion, rate limits). With no provider configured it runs dry: one log line per message, with
// the number's middle digits and any code-like digits masked. A payload's callback_url is told of
// the accepted send as email's is (payload-callback.ts).
import { FusionError, NonRetryableError } from '../../core/errors.js';
import type { TaskContext } from '../../core/registry.js';
import type { ChannelDeps, ChannelSetup } from '../channel.js';
import { DeliveryPipeline } from '../delivery.js';
import { dryRunProvider } from '../dry-run.js';
import { announce } from '../payload-callback.js';
import type { Provider, ProviderFactory } from '../provider.js';
import { CHANNEL_QUEUES } from '../queues.js';
import type { SmsMessage } from './message.js';
import { maskNumber, maskText, parseSmsPayload, payloadCredentials, withoutOtpText, type ParsedSms } from './payload.js';
import { SMS_PROVIDERS } from './providers/index.js';

export const SMS_TASK = 'sms';
export const SMS_OTP_TASK = 'sms.otp';

/** A job is an OTP by its task, its payload (`isOTP`, `otp`), or the /queue/ envelope's task_type (kept as a tag). */
const otpTag = (tags: string[]) => tags.some((t) => /^task_type:otp$/i.test(t));

export function smsChannel(deps: ChannelDeps): ChannelSetup {
  const factories = [...SMS_PROVIDERS, ...((deps.factories ?? []) as ProviderFactory<SmsMessage>[]).filter((f) => f.channel === 'sms')];
  const pipeline = new DeliveryPipeline<SmsMessage>({
    channel: 'sms',
    config: deps.config.channels?.sms,
    factories,
    deps,
    dryRun: dryRunProvider<SmsMessage>((m) => {
      deps.logger.info({ channel: 'sms', provider: 'dry-run', to: maskNumber(m.to), text: maskText(m.text), otp: m.otp, senderId: m.senderId ?? null }, 'dry-run: sms not sent (no provider configured)');
    }),
  });

  /** Credentials belong in config; a payload may carry them only for a provider that allows it. */
  const checkCredentials = (payload: unknown, parsed: ParsedSms) => {
    const found = payloadCredentials(payload);
    if (found.length === 0) return;
    const chosen = pipeline.resolveRequested(parsed.provider);
    if (chosen && pipeline.entry(chosen)?.allowPayloadCredentials === true) return;
    throw new FusionError('invalid_payload', `${found[0]} looks like a credential: provider credentials come from config, not payloads${chosen ? ` (provider ${chosen} does not set allowPayloadCredentials)` : ''}`, { field: found[0] });
  };

  const validate = (payload: unknown) => checkCredentials(payload, parseSmsPayload(payload));

  const handler = (otpTask: boolean) => async (payload: unknown, ctx: TaskContext) => {
    let parsed: ParsedSms;
    try {
      parsed = parseSmsPayload(payload);
      checkCredentials(payload, parsed);
    } catch (e) {
      // Enqueued before the check existed, or written into the store by other means: no attempt can fix it.
      if (e instanceof FusionError) throw new NonRetryableError(`invalid sms payload: ${e.message}${e.details.field ? ` (field ${String(e.details.field)})` : ''}`);
      throw e;
    }
    const otp = otpTask || parsed.message.otp || otpTag(ctx.job.tags);
    const message: SmsMessage = { ...parsed.message, otp };
    const sent = (await pipeline.earlierSend(ctx)) ?? await pipeline.deliver(message, { country: `+${message.callingCode}`, otp, requested: parsed.provider }, ctx);
    // The result is kept with the job and shown to read keys: an answer that echoes the code does not.
    if (otp && sent.response !== undefined) sent.response = withoutOtpText(sent.response, message.text);
    if (parsed.callbackUrl) await announce(deps, ctx, { url: parsed.callbackUrl, format: parsed.original ? 'form' : 'json', name: 'callback_url' }, { completed: sent });
    return sent;
  };

  return {
    tasks: [
      { name: SMS_TASK, handler: handler(false), options: { queue: CHANNEL_QUEUES.sms, validate } },
      { name: SMS_OTP_TASK, handler: handler(true), options: { queue: CHANNEL_QUEUES.sms, priority: 'high', validate } },
    ],
    dryRun: pipeline.dryRun,
    providers: Object.fromEntries(pipeline.providers) as Record<string, Provider>,
  };
}
