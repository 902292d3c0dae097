// Optional OpenTelemetry exporter: one span per attempt, made from lifecycle events through
// @opentelemetry/api. Without a tracer provider registered by the application, the API's global
// tracer is a no-op; without traceAttempts() (Fusion's `otel` option, `--otel`, FUSION_OTEL=1)
// nothing listens and the worker builds no event at all.
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { Job } from './job.js';
import { ATTEMPT_ENDS, type AttemptEndName, type Lifecycle, type LifecycleEvents } from './lifecycle.js';

export const TRACER_NAME = 'fusion';

export interface TelemetryOptions {
  /** Default: the global tracer provider's tracer named `fusion` (trace.getTracer). */
  tracer?: Tracer;
}

/** The outcome attribute of each way an attempt ends. */
const OUTCOMES: Record<AttemptEndName, string> = {
  'job.completed': 'completed', 'job.retrying': 'retrying', 'job.failed': 'failed',
  'job.cancelled': 'cancelled', 'job.released': 'released', 'job.snoozed': 'snoozed', 'job.lost': 'lost',
};

/**
 * Make a span per attempt: `fusion.job <task>`, from job.started to the attempt's end, with the
 * job's id, queue, task, attempt and worker, and its outcome. A failed attempt (retrying or
 * failed) has status ERROR and the error recorded as an exception event. Returns the detach.
 */
export function traceAttempts(lifecycle: Lifecycle, opts: TelemetryOptions = {}): () => void {
  // Resolved lazily through the API's proxy: a provider registered after this call still gets the spans.
  const tracer = opts.tracer ?? trace.getTracer(TRACER_NAME);
  // Keyed by the job object itself: the worker hands the same one to an attempt's start and end.
  const open = new Map<Job, Span>();
  const offs = [
    lifecycle.on('job.started', (e) => {
      const attributes: Attributes = {
        'fusion.job.id': e.job.id, 'fusion.job.queue': e.job.queue, 'fusion.job.task': e.job.task,
        'fusion.job.attempt': e.attempt, 'fusion.worker.id': e.workerId,
      };
      const span = tracer.startSpan(`fusion.job ${e.job.task}`, { kind: SpanKind.CONSUMER, startTime: e.at, attributes });
      // A span nobody records (no provider registered, or sampled out) needs no end.
      if (span.isRecording()) open.set(e.job, span);
    }),
    ...ATTEMPT_ENDS.map((name) => lifecycle.on(name, (e) => end(name, e))),
  ];

  function end(name: AttemptEndName, e: LifecycleEvents[AttemptEndName]): void {
    const span = open.get(e.job);
    if (!span) return;
    open.delete(e.job);
    span.setAttribute('fusion.job.outcome', OUTCOMES[name]);
    if ('error' in e && name !== 'job.cancelled') {
      span.recordException({ name: e.error.name ?? 'Error', message: e.error.message, stack: e.error.stack }, e.at);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
      if ('retryAt' in e) span.setAttribute('fusion.job.retry_at', e.retryAt);
    } else if (name === 'job.completed') span.setStatus({ code: SpanStatusCode.OK });
    span.end(e.at);
  }

  return () => {
    for (const off of offs) off();
    // Attempts still running when tracing stops end now, unfinished rather than lost.
    for (const span of open.values()) span.end();
    open.clear();
  };
}
