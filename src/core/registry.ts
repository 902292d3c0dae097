// Registered task handlers: `task name → async (payload, ctx)`, like Celery tasks or BullMQ processors.
import type { BackoffPolicy, Job, Priority } from './job.js';

export interface TaskContext<P = unknown> {
  job: Job<P>;
  /** Aborted on timeout, on cancel, on lease loss, and at the end of a shutdown's grace period. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
  workerId: string;
  progress(value: unknown): Promise<void>;
  log(message: string): Promise<void>;
}

export type TaskHandler<P = any, R = unknown> = (payload: P, ctx: TaskContext<P>) => Promise<R> | R;

/** Defaults applied to jobs of a task when the enqueuer does not say otherwise. */
export interface TaskOptions {
  queue?: string;
  priority?: Priority;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  timeout?: number;
  /** Lost leases (a dead or stuck worker) a job may come back from before it fails (default 3). */
  maxStalls?: number;
  /**
   * Checks a job's payload when it is enqueued, on every path (API, library, schedules, bulk), so a
   * bad payload is refused at the door rather than failing later. Throws a FusionError whose
   * `details.field` names the bad field relative to the payload (e.g. `to`), or returns nothing.
   */
  validate?: (payload: unknown) => void;
}

export interface TaskDefinition {
  name: string;
  handler: TaskHandler;
  options: TaskOptions;
}

export class TaskRegistry {
  private tasks = new Map<string, TaskDefinition>();
  /** Defaults of tasks known before their handler is registered (the channels), so their jobs wait in the right queue. */
  private declared = new Map<string, TaskOptions>();

  declare(name: string, options: TaskOptions): this {
    this.declared.set(name, options);
    return this;
  }

  /** Job defaults for a task: its handler's options, else what was declared for it. */
  defaultsOf(name: string): TaskOptions | undefined {
    return this.tasks.get(name)?.options ?? this.declared.get(name);
  }

  register<P, R>(name: string, handler: TaskHandler<P, R>, options: TaskOptions = {}): this {
    if (!name || typeof name !== 'string') throw new TypeError('task name must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError(`handler of task "${name}" must be a function`);
    this.tasks.set(name, { name, handler: handler as TaskHandler, options });
    return this;
  }

  get(name: string): TaskDefinition | undefined {
    return this.tasks.get(name);
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** A handler is registered for the task, or the task was declared (its handler may come later). */
  knows(name: string): boolean {
    return this.tasks.has(name) || this.declared.has(name);
  }

  names(): string[] {
    return [...this.tasks.keys()];
  }
}
