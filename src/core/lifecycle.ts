// Lifecycle events: what the worker and the scheduler of this process do, as they do it, in one
// typed map that metrics, logs, the event stream and the OpenTelemetry exporter listen to.
//
// These are in-process and come from the actor itself (a worker's view of its attempt: exact
// durations, the handler's result or error), unlike store events, which say what the store applied
// and, on Redis or PostgreSQL, reach every process. A job event is emitted when the worker has
// decided the attempt's outcome, just before the outcome is stored; a store that refuses it (the
// lease was taken over meanwhile) does not take it back.
//
// Cost when nobody listens: an emitter answers `has(name)` with one property read, and the worker
// and scheduler build an event's payload only after asking it.
import type { Job, JobError } from './job.js';
import { silentLogger, type Logger } from './logger.js';

/** What every job event carries: the job as claimed, which attempt, whose, and when (clock ms). */
export interface JobEvent {
  job: Job;
  /** 1 for the first try. */
  attempt: number;
  workerId: string;
  at: number;
}

/** An attempt that ended: how long it ran in the handler (clock ms). */
export interface AttemptEnd extends JobEvent {
  durationMs: number;
}

export interface LifecycleEvents {
  /** The worker began running an attempt. */
  'job.started': JobEvent;
  /** The handler returned; `result` is its value. */
  'job.completed': AttemptEnd & { result: unknown };
  /**
   * The attempt failed and the job runs again at `retryAt`; unless it was asked to cancel while the
   * attempt ran: the store then ends it cancelled (its store event says so). So with job.released
   * and job.snoozed.
   */
  'job.retrying': AttemptEnd & { error: JobError; retryAt: number };
  /** The attempt failed and the job will not run again (no attempts left, or not retryable). */
  'job.failed': AttemptEnd & { error: JobError };
  /** The job was cancelled while it ran (its signal aborted). */
  'job.cancelled': AttemptEnd & { error: JobError };
  /** The worker stopped before the attempt ended and gave the job back to its queue. */
  'job.released': AttemptEnd;
  /** The handler put the job off (SnoozeError): it runs again at `runAt`, the attempt not counted. */
  'job.snoozed': AttemptEnd & { runAt: number };
  /** The worker lost the job's lease (another worker may run it now): its outcome is dropped. */
  'job.lost': AttemptEnd;
  /** A worker started claiming. */
  'worker.up': { workerId: string; queues: string[]; concurrency: number; at: number };
  /** A worker stopped: every outcome it had is stored and it left the worker list. */
  'worker.down': { workerId: string; queues: string[]; at: number; startedAt: number };
  /** A schedule fired: its occurrences' jobs were added (once, whichever scheduler fired them). */
  'schedule.fired': { scheduleId: string; jobIds: string[]; occurrences: number[]; at: number; dropped: number };
}

export type LifecycleEventName = keyof LifecycleEvents;
export type LifecycleListener<K extends LifecycleEventName> = (event: LifecycleEvents[K], name: K) => void;

/** Every job event that ends an attempt. */
export const ATTEMPT_ENDS = ['job.completed', 'job.retrying', 'job.failed', 'job.cancelled', 'job.released', 'job.snoozed', 'job.lost'] as const;
export type AttemptEndName = (typeof ATTEMPT_ENDS)[number];

type Listeners = { [K in LifecycleEventName]?: LifecycleListener<K>[] };

/**
 * A typed emitter of lifecycle events. A listener's throw is caught and logged: a metrics or
 * tracing bug never breaks a worker. Listeners run synchronously, in the order added; one that
 * needs to do I/O should start it and return.
 */
export class Lifecycle {
  private listeners: Listeners = {};

  constructor(private readonly logger: Logger = silentLogger) {}

  on<K extends LifecycleEventName>(name: K, listener: LifecycleListener<K>): () => void {
    const list = (this.listeners[name] ?? []) as LifecycleListener<K>[];
    // A new array each time: an emit in progress keeps iterating the one it started with.
    (this.listeners as Record<K, LifecycleListener<K>[]>)[name] = [...list, listener];
    return () => this.off(name, listener);
  }

  off<K extends LifecycleEventName>(name: K, listener: LifecycleListener<K>): void {
    const list = this.listeners[name] as LifecycleListener<K>[] | undefined;
    if (!list) return;
    const rest = list.filter((l) => l !== listener);
    // No listeners left: drop the key, so has() is false again and emitters stop building payloads.
    if (rest.length) (this.listeners as Record<K, LifecycleListener<K>[]>)[name] = rest;
    else delete this.listeners[name];
  }

  once<K extends LifecycleEventName>(name: K, listener: LifecycleListener<K>): () => void {
    const off = this.on(name, (event, n) => {
      off();
      listener(event, n);
    });
    return off;
  }

  /** The next `name` event, as a promise. */
  next<K extends LifecycleEventName>(name: K): Promise<LifecycleEvents[K]> {
    return new Promise((resolve) => this.once(name, resolve));
  }

  /** Whether anyone listens to `name`: emitters ask before building the payload. */
  has(name: LifecycleEventName): boolean {
    return this.listeners[name] !== undefined;
  }

  emit<K extends LifecycleEventName>(name: K, event: LifecycleEvents[K]): void {
    const list = this.listeners[name] as LifecycleListener<K>[] | undefined;
    if (!list) return;
    for (const listener of list) {
      try {
        listener(event, name);
      } catch (err) {
        this.logger.error({ err, event: name }, 'lifecycle listener failed');
      }
    }
  }
}
