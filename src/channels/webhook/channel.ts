// The webhook channel's tasks. (Filled in by the webhook channel's work.)
import type { ChannelDeps, ChannelSetup } from '../channel.js';

export function webhookChannel(_deps: ChannelDeps): ChannelSetup {
  return { tasks: [], dryRun: true };
}
