// Public library API.
export { Fusion, type FusionOptions } from './fusion.js';
export { Queue, resolveSpec } from './core/queue.js';
export { Enqueuer, type EnqueuerOptions, type Added } from './core/enqueue.js';
export { Worker, type WorkerOptions } from './core/worker.js';
export {
  Scheduler, occurrenceJobId, type SchedulerOptions, type TickReport, type Schedule, type ScheduleInput, type ScheduleTemplate,
  type MisfirePolicy, type MisfirePolicyName, type Trigger, type CronTrigger, type RRuleTrigger, type EveryTrigger, type AtTrigger,
} from './core/scheduler.js';
export { EventHub, Subscription, type HubEvent, type HubEventType, type EventFilter, type EventHubOptions } from './core/events.js';
export {
  Lifecycle, ATTEMPT_ENDS, type LifecycleEvents, type LifecycleEventName, type LifecycleListener, type JobEvent, type AttemptEnd, type AttemptEndName,
} from './core/lifecycle.js';
export { traceAttempts, TRACER_NAME, type TelemetryOptions } from './core/telemetry.js';
export { Maintenance, type MaintenanceOptions, type RetentionPolicy } from './core/maintenance.js';
export { TaskRegistry, type TaskContext, type TaskHandler, type TaskOptions } from './core/registry.js';
export { NonRetryableError, RetryableError, SnoozeError, TimeoutError, CancelledError, FusionError } from './core/errors.js';
export { ManualClock, systemClock, type Clock } from './core/clock.js';
export * from './core/job.js';
export type * from './core/store.js';
export { openStore, DEFAULT_STORE_URL } from './stores/index.js';
export { SqliteStore } from './stores/sqlite/store.js';
export { createLogger, maskSecrets } from './logging.js';
