// The delivery channels, installed into a task registry: every channel's tasks with their payload
// checks, sharing one outgoing-HTTP guard. Channels are on by default; with no provider configured
// a channel runs its dry-run provider. Every channel task logs each attempt (attempt-log.ts).
import type { TaskRegistry } from '../core/registry.js';
import type { ChannelDeps, ChannelSetup } from './channel.js';
import type { Provider } from './provider.js';
import type { DeliveryPipeline } from './delivery.js';
import { smsChannel } from './sms/channel.js';
import { emailChannel } from './email/channel.js';
import { pushChannel } from './push/channel.js';
import { webhookChannel } from './webhook/channel.js';
import { whatsappChannel } from './whatsapp/channel.js';
import { reminderChannel } from './reminder/channel.js';
import { TASK_LABELS, withAttemptLog } from './attempt-log.js';
import { secretValues } from './secrets.js';

export type ChannelMaker = (deps: ChannelDeps) => ChannelSetup;

export const CHANNELS: Record<string, ChannelMaker> = {
  sms: smsChannel,
  email: emailChannel,
  push: pushChannel,
  webhook: webhookChannel,
  whatsapp: whatsappChannel,
  reminder: reminderChannel,
};

export interface InstalledChannels {
  /** Channel names running their dry-run provider only. */
  dryRun: string[];
  tasks: string[];
  /** Configured providers: channel → provider name → instance (delivery reports find them here). */
  providers?: Record<string, Record<string, Provider>>;
  /** The delivery pipeline of every channel that has providers, in install order. */
  pipelines?: DeliveryPipeline<any>[];
}

/** `channels` defaults to every channel Fusion ships; another set serves tests and embedders. */
export function installChannels(registry: TaskRegistry, deps: ChannelDeps, channels: Record<string, ChannelMaker> = CHANNELS): InstalledChannels {
  const out: InstalledChannels = { dryRun: [], tasks: [], providers: {}, pipelines: [] };
  const log = { logger: deps.logger, clock: deps.clock, secrets: secretValues(deps.config) };
  const withPipelines: ChannelDeps = { ...deps, pipelines: out.pipelines };
  for (const [name, make] of Object.entries(channels)) {
    const setup = make(withPipelines);
    if (setup.dryRun) out.dryRun.push(name);
    if (setup.providers) out.providers![name] = setup.providers;
    for (const t of setup.tasks) {
      const logged = withAttemptLog(t, TASK_LABELS[name] ?? name.toUpperCase(), log);
      registry.register(logged.name, logged.handler, logged.options);
      out.tasks.push(t.name);
    }
  }
  return out;
}
