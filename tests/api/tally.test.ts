// The cheap per-request metric holders report exactly what prom-client would.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { CounterTally, LocalHistogram } from '../../src/api/tally.js';
import { ApiMetrics, Bounded } from '../../src/api/metrics.js';
import { Fusion } from '../../src/fusion.js';

describe('LocalHistogram', () => {
  it('exposes the same lines as a prom-client Histogram fed the same observations', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = new Registry();
    const theirs = new Registry();
    const local = new LocalHistogram('h_seconds', 'help', buckets, ours);
    const ref = new Histogram({ name: 'h_seconds', help: 'help', labelNames: ['method', 'route'], buckets, registers: [theirs] });
    const samples: [string, string, number][] = [
      ['POST', '/a', 0.0005], ['POST', '/a', 0.001], ['POST', '/a', 0.05], ['GET', '/b', 7], ['POST', '/a', 1], ['GET', '/b', 0.002],
    ];
    for (const [method, route, v] of samples) {
      local.cell(`${method} ${route}`, () => ({ method, route })).observe(v);
      ref.observe({ method, route }, v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
  });
});

describe('CounterTally', () => {
  it('hands each increment to the counter exactly once, across scrapes', async () => {
    const reg = new Registry();
    const tally: { t?: CounterTally<'q'> } = {};
    const c = new Counter({ name: 'c_total', help: 'help', labelNames: ['q'], registers: [reg], collect: () => tally.t!.flush() });
    tally.t = new CounterTally(c);
    const a = tally.t.cell('a', () => ({ q: 'a' }));
    a.n += 3;
    assert.match(await reg.metrics(), /c_total\{q="a"\} 3\n/);
    assert.match(await reg.metrics(), /c_total\{q="a"\} 3\n/, 'a second scrape adds nothing');
    tally.t.cell('a', () => ({ q: 'other' })).n++;
    tally.t.cell('b', () => ({ q: 'b' })).n += 2;
    const text = await reg.metrics();
    assert.match(text, /c_total\{q="a"\} 4\n/);
    assert.match(text, /c_total\{q="b"\} 2/);
  });

  it('keeps the counts of label sets it forgets when it holds too many', async () => {
    const reg = new Registry();
    const tally: { t?: CounterTally<'q'> } = {};
    const c = new Counter({ name: 'c_total', help: 'help', labelNames: ['q'], registers: [reg], collect: () => tally.t!.flush() });
    tally.t = new CounterTally(c);
    for (let i = 0; i < 10_050; i++) tally.t.cell(`k${i}`, () => ({ q: `k${i}` })).n++;
    const text = await reg.metrics();
    assert.match(text, /c_total\{q="k0"\} 1\n/);
    assert.match(text, /c_total\{q="k10049"\} 1/);
  });
});

describe('Bounded', () => {
  it('keeps recent keys, forgets old ones, and never holds more than its cap', () => {
    const b = new Bounded<number>(100);
    for (let i = 0; i < 1000; i++) {
      b.set(`k${i}`, i);
      assert.ok(b.size <= 100);
    }
    assert.equal(b.get('k999'), 999);
    assert.equal(b.get('k950'), 950);
    assert.equal(b.get('k10'), undefined);
    b.delete('k999');
    assert.equal(b.get('k999'), undefined);
    b.set('k920', -1);
    assert.equal(b.get('k920'), -1, 'a newer value wins over the older generation');
  });
});

describe('ApiMetrics.request', () => {
  it('keeps counting after its cells are dropped (a registry reset), though it keeps cells between requests', async () => {
    const fusion = await Fusion.open({ store: 'sqlite::memory:', channels: false });
    try {
      const m = new ApiMetrics(fusion.store, { defaultMetrics: false });
      const count = /fusion_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} (\d+)/;
      const observed = /fusion_http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs"\} (\d+)/;
      m.request('POST', '/v1/jobs', 201, 0.002);
      m.request('POST', '/v1/jobs', 201, 0.003);
      m.request('POST', '/v1/jobs', 422, 0.001);
      let text = await m.registry.metrics();
      assert.equal(count.exec(text)?.[1], '2');
      assert.equal(observed.exec(text)?.[1], '3');
      m.registry.resetMetrics();
      m.request('POST', '/v1/jobs', 201, 0.002);
      text = await m.registry.metrics();
      assert.equal(count.exec(text)?.[1], '1');
      assert.equal(observed.exec(text)?.[1], '1');
    } finally {
      await fusion.close();
    }
  });
});
