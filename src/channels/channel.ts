// What a channel gives the engine: its tasks (handler, payload check, queue and priority) and what
// it needs to run them.
import type { Dispatcher } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { TaskHandler, TaskOptions } from '../core/registry.js';
import type { Store } from '../core/store.js';
import { Enqueuer } from '../core/enqueue.js';
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
  /** The enqueue funnel follow-up jobs go in through (default: one of its own over store and clock). */
  enqueuer?: Enqueuer;
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

const ownFunnels = new WeakMap<ChannelDeps, Enqueuer>();

/** The funnel a channel adds its follow-up jobs through: the Fusion's own, else one made once for these deps. */
export function enqueuerOf(deps: ChannelDeps): Enqueuer {
  if (deps.enqueuer) return deps.enqueuer;
  let own = ownFunnels.get(deps);
  if (!own) ownFunnels.set(deps, (own = new Enqueuer(deps.store, { clock: deps.clock })));
  return own;
}
