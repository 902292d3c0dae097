// The delivery channels, installed into a task registry: every channel's tasks with their payload
// checks, sharing one outgoing-HTTP guard. Channels are on by default; with no provider configured
// a channel runs its dry-run provider.
import type { TaskRegistry } from '../core/registry.js';
import type { ChannelDeps, ChannelSetup } from './channel.js';
import type { Provider } from './provider.js';
import { smsChannel } from './sms/channel.js';
import { pushChannel } from './push/channel.js';
import { webhookChannel } from './webhook/channel.js';
import { whatsappChannel } from './whatsapp/channel.js';
import { reminderChannel } from './reminder/channel.js';

export const CHANNELS: Record<string, (deps: ChannelDeps) => ChannelSetup> = {
  sms: smsChannel,
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
}

export function installChannels(registry: TaskRegistry, deps: ChannelDeps): InstalledChannels {
  const out: InstalledChannels = { dryRun: [], tasks: [], providers: {} };
  for (const [name, make] of Object.entries(CHANNELS)) {
    const setup = make(deps);
    if (setup.dryRun) out.dryRun.push(name);
    if (setup.providers) out.providers![name] = setup.providers;
    for (const t of setup.tasks) {
      registry.register(t.name, t.handler, t.options);
      out.tasks.push(t.name);
    }
  }
  return out;
}
