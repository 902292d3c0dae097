// The sms channel's tasks. (Filled in by the sms channel's work.)
import type { ChannelDeps, ChannelSetup } from '../channel.js';

export function smsChannel(_deps: ChannelDeps): ChannelSetup {
  return { tasks: [], dryRun: true };
}
