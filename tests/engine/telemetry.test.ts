// The optional OpenTelemetry exporter: a span per attempt through the global tracer provider the
// application registers (here an SDK provider with an in-memory exporter); off by default.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ManualClock } from '../../src/core/clock.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { join } from 'node:path';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

async function open(otel: boolean, clock = new ManualClock()): Promise<{ fusion: Fusion; close(): Promise<void> }> {
  const t = tempDir();
  const fusion = await Fusion.open({ store: new SqliteStore(join(t.dir, 'fusion.db')), clock, otel, channels: false });
  return {
    fusion,
    async close() {
      await fusion.close(100);
      t.remove();
    },
  };
}

const toMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;

describe('OpenTelemetry exporter', () => {
  before(() => assert.equal(trace.setGlobalTracerProvider(provider), true));
  after(async () => {
    trace.disable();
    await provider.shutdown();
  });

  it('a completed attempt is one span: name, attributes, OK status, start and end at the attempt', async () => {
    exporter.reset();
    const clock = new ManualClock();
    const { fusion, close } = await open(true, clock);
    try {
      let release!: () => void;
      fusion.task('send-sms', () => new Promise<string>((r) => (release = () => r('sent'))), { queue: 'sms' });
      fusion.worker({ queues: ['sms'], id: 'w-otel' });
      const started = fusion.lifecycle.next('job.started');
      await fusion.enqueue('send-sms', { to: '+91' }, { id: 'otp-1' });
      const s = await started;
      clock.advance(40);
      const completed = fusion.lifecycle.next('job.completed');
      release();
      await completed;
      const spans = exporter.getFinishedSpans();
      assert.equal(spans.length, 1);
      const span = spans[0]!;
      assert.equal(span.name, 'fusion.job send-sms');
      assert.equal(span.kind, SpanKind.CONSUMER);
      assert.deepEqual(span.attributes, {
        'fusion.job.id': 'otp-1', 'fusion.job.queue': 'sms', 'fusion.job.task': 'send-sms',
        'fusion.job.attempt': 1, 'fusion.worker.id': 'w-otel', 'fusion.job.outcome': 'completed',
      });
      assert.equal(span.status.code, SpanStatusCode.OK);
      assert.equal(toMs(span.startTime as [number, number]), s.at);
      assert.equal(toMs(span.endTime as [number, number]), s.at + 40);
    } finally {
      await close();
    }
  });

  it('a retried then failed job: one ERROR span per attempt, with outcome and the exception', async () => {
    exporter.reset();
    const clock = new ManualClock();
    const { fusion, close } = await open(true, clock);
    try {
      fusion.task('flaky', (_p, ctx) => {
        if (ctx.attempt === 1) throw new Error('provider down');
        throw new NonRetryableError('bad number');
      });
      fusion.worker({ queues: ['default'] });
      const retrying = fusion.lifecycle.next('job.retrying');
      await fusion.enqueue('flaky', null, { id: 'flaky-1', backoff: { type: 'fixed', delay: 500 } });
      const r = await retrying;
      const failed = fusion.lifecycle.next('job.failed');
      clock.advance(500);
      await failed;
      const spans = exporter.getFinishedSpans();
      assert.deepEqual(spans.map((s: ReadableSpan) => [s.name, s.attributes['fusion.job.attempt'], s.attributes['fusion.job.outcome']]), [
        ['fusion.job flaky', 1, 'retrying'],
        ['fusion.job flaky', 2, 'failed'],
      ]);
      for (const s of spans) assert.equal(s.status.code, SpanStatusCode.ERROR);
      assert.equal(spans[0]!.status.message, 'provider down');
      assert.equal(spans[0]!.attributes['fusion.job.retry_at'], r.retryAt);
      assert.equal(spans[1]!.status.message, 'bad number');
      const exception = spans[1]!.events.find((e) => e.name === 'exception');
      assert.equal(exception?.attributes?.['exception.message'], 'bad number');
      assert.equal(exception?.attributes?.['exception.type'], 'NonRetryableError');
    } finally {
      await close();
    }
  });

  it('off by default: no listener is attached and no span is made', async () => {
    exporter.reset();
    const { fusion, close } = await open(false);
    try {
      for (const name of ['job.started', 'job.completed', 'job.failed'] as const) assert.equal(fusion.lifecycle.has(name), false);
      fusion.task('t', () => 'ok');
      fusion.worker({ queues: ['default'] });
      const done = new Promise<void>((resolve) => {
        const off = fusion.store.subscribe((e) => e.type === 'completed' && (off(), resolve()));
      });
      await fusion.enqueue('t');
      await done;
      assert.equal(exporter.getFinishedSpans().length, 0);
    } finally {
      await close();
    }
  });
});
