// Per-request metrics kept as plain numbers and handed to prom-client only when /metrics is read.
// prom-client validates and hashes the label object on every inc() and observe(), even through
// labels() children: ~1 µs per request on the enqueue path, for numbers nobody reads until a scrape.
import type { Counter, Registry } from 'prom-client';

/** Label sets beyond this many are flushed and forgotten (a flood of task names must not grow memory). */
const MAX_CELLS = 10_000;

export interface CountCell {
  n: number;
}

/** Counts for a prom-client Counter, added to it when the counter is collected. */
export class CounterTally<L extends string> {
  private cells = new Map<string, CountCell & { labels: Partial<Record<L, string>>; flushed: number }>();
  /** Bumped whenever cells are dropped: a caller keeping cells must fetch them again. */
  generation = 0;

  constructor(private readonly counter: Counter<L>) {}

  /** The cell for one label set; `key` must identify the labels. Increment its `n`. */
  cell(key: string, labels: () => Partial<Record<L, string>>): CountCell {
    let c = this.cells.get(key);
    if (c === undefined) {
      if (this.cells.size >= MAX_CELLS) {
        this.flush();
        this.cells.clear();
        this.generation++;
      }
      this.cells.set(key, (c = { n: 0, flushed: 0, labels: labels() }));
    }
    return c;
  }

  /** Hand the counts since the last flush to the counter (prom-client calls this before reading it). */
  flush(): void {
    for (const c of this.cells.values()) {
      if (c.n > c.flushed) this.counter.inc(c.labels, c.n - c.flushed);
      c.flushed = c.n;
    }
  }
}

export interface HistogramCell {
  observe(v: number): void;
}

interface HCell extends HistogramCell {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram in prom-client's exposition shape, registered as a metric of its own: observe() is a
 * bucket search and three additions. Reports what prom-client's Histogram would for the same
 * observations (cumulative _bucket lines, +Inf, _sum, _count).
 */
export class LocalHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private cells = new Map<string, HCell>();
  /** Bumped whenever cells are dropped (reset): a caller keeping cells must fetch them again. */
  generation = 0;

  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[], registry: Registry) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  cell(key: string, labels: () => Record<string, string>): HistogramCell {
    let c = this.cells.get(key);
    if (c === undefined) {
      // No cap: label sets are method x route, bounded by the route table.
      const counts = new Array<number>(this.buckets.length).fill(0);
      const buckets = this.buckets;
      const cell: HCell = {
        labels: labels(), counts, sum: 0, count: 0,
        observe(v: number) {
          let i = 0;
          while (i < buckets.length && v > buckets[i]!) i++;
          if (i < buckets.length) counts[i]!++;
          cell.sum += v;
          cell.count++;
        },
      };
      this.cells.set(key, (c = cell));
    }
    return c;
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const c of this.cells.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ labels: { le, ...c.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.cells.clear();
    this.generation++;
  }
}
