// The whatsapp channel: task `whatsapp` on queue `whatsapp`, payloads checked at enqueue, delivered
// through the shared pipeline (routes by calling code, failover, demotion, rate limits) to Meta's
// Cloud API or Twilio WhatsApp.
//
// Consent is checked at send time, on every attempt, in the store (consent.ts): an opt-out recorded
// after a job was queued stops it. With `channels.whatsapp.requireConsent` true a number with no
// recorded consent is not messaged either; by default only a recorded opt-out stops a message, as
// the original sent to numbers it had no record of (consentRule). Either way the job fails at once,
// not retryable, with code `no_consent`.
import { FusionError, NonRetryableError } from '../../core/errors.js';
import type { TaskContext } from '../../core/registry.js';
import type { ChannelDeps, ChannelSetup } from '../channel.js';
import { DeliveryPipeline } from '../delivery.js';
import { dryRunProvider } from '../dry-run.js';
import type { Provider, ProviderFactory } from '../provider.js';
import { CHANNEL_QUEUES } from '../queues.js';
import { maskNumber, maskText } from '../sms/payload.js';
import { consentBook, consentRule } from './consent.js';
import type { WhatsAppMessage } from './message.js';
import { parseWhatsAppPayload, type ParsedWhatsApp } from './payload.js';
import { WHATSAPP_PROVIDERS } from './providers/index.js';

export const WHATSAPP_TASK = 'whatsapp';

/** The send refused for want of consent. */
export class ConsentError extends NonRetryableError {
  override name = 'ConsentError';
  readonly code = 'no_consent';
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown>) {
    super(message);
    this.details = details;
  }
}

export function whatsappChannel(deps: ChannelDeps): ChannelSetup {
  const config = deps.config.channels?.whatsapp ?? {};
  const { requireConsent } = consentRule(config);
  const language = config.templateLanguage ?? 'en';
  const factories = [...WHATSAPP_PROVIDERS, ...((deps.factories ?? []) as ProviderFactory<WhatsAppMessage>[]).filter((f) => f.channel === 'whatsapp')];
  const pipeline = new DeliveryPipeline<WhatsAppMessage>({
    channel: 'whatsapp',
    config,
    factories,
    deps,
    dryRun: dryRunProvider<WhatsAppMessage>((m) => {
      deps.logger.info({ channel: 'whatsapp', provider: 'dry-run', to: maskNumber(m.to), kind: m.kind, text: m.text ? maskText(m.text) : null, template: m.template?.name ?? null }, 'dry-run: whatsapp not sent (no provider configured)');
    }),
  });
  const consents = consentBook(deps.store);

  const validate = (payload: unknown) => void parseWhatsAppPayload(payload);

  const handler = async (payload: unknown, ctx: TaskContext) => {
    let parsed: ParsedWhatsApp;
    try {
      parsed = parseWhatsAppPayload(payload);
    } catch (e) {
      if (e instanceof FusionError) throw new NonRetryableError(`invalid whatsapp payload: ${e.message}${e.details.field ? ` (field ${String(e.details.field)})` : ''}`);
      throw e;
    }
    const message = parsed.message;
    if (message.template && parsed.defaultLanguage) message.template.language = language;

    const consent = await consents.lookup(message.to, undefined, deps.clock.now());
    if (consent?.consent === false) {
      throw new ConsentError(`${maskNumber(message.to)} opted out of WhatsApp messages (recorded ${new Date(consent.updatedAt).toISOString()})`, { contact: maskNumber(message.to), consent: false, updatedAt: consent.updatedAt });
    }
    if (!consent && requireConsent) {
      throw new ConsentError(`no WhatsApp consent is recorded for ${maskNumber(message.to)} (record it with /update_consent/; channels.whatsapp.requireConsent is on)`, { contact: maskNumber(message.to), consent: null });
    }
    return (await pipeline.earlierSend(ctx)) ?? pipeline.deliver(message, { country: `+${message.callingCode}`, requested: parsed.provider }, ctx);
  };

  return {
    tasks: [{ name: WHATSAPP_TASK, handler, options: { queue: CHANNEL_QUEUES.whatsapp, validate } }],
    dryRun: pipeline.dryRun,
    providers: Object.fromEntries(pipeline.providers) as Record<string, Provider>,
  };
}
