// What a channel gives the engine: its tasks (handler, payload check, queue and priority) and what
// it needs to run them.
import type { Dispatcher } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { TaskHandler, TaskOptions } from '../core/registry.js';
import type { Store } from '../core/store.js';
import type { FusionConfig } from './config-types.js';
import type { OutgoingGuard } from './http/guard.js';
import type { Provider, ProviderFactory } from './provider.js';
import type { DeliveryPipeline } from './delivery.js';

export interface ChannelTask {
  name: string;
  handler: TaskHandler;
  /** queue, priority, retry policy, and `validate` (the payload check run at enqueue). */
  options: TaskOptions;
}

export interface ChannelDeps {
  config: FusionConfig;
  guard: OutgoingGuard;
  /** The guarded dispatcher every outgoing request uses. */
  dispatcher: Dispatcher;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Provider adapters besides the built-in catalogues (a user's own), picked by `type` in config. */
  factories?: ProviderFactory<any>[];
  /** Every DeliveryPipeline made with these deps adds itself here (GET /v1/providers, provider events). */
  pipelines?: DeliveryPipeline<any>[];
}

export interface ChannelSetup {
  tasks: ChannelTask[];
  /** Channels whose only provider is dry-run (said once at boot). */
  dryRun: boolean;
  /** The channel's configured providers by name (delivery reports reach them through this). */
  providers?: Record<string, Provider>;
}
