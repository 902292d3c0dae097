// The reminder channel's tasks. (Filled in by the reminder channel's work.)
import type { ChannelDeps, ChannelSetup } from '../channel.js';

export function reminderChannel(_deps: ChannelDeps): ChannelSetup {
  return { tasks: [], dryRun: true };
}
