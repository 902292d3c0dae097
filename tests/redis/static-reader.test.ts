// A claim reads each job's static JSON (codec.ts StaticReader): the head and tail the jobs of an add
// share are parsed once and only the payload between them per job. Whatever a payload or task
// holds, the reader must give what a full JSON.parse gives, and each job its own policy object.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec } from '../../src/core/job.js';
import { staticJson, StaticJsonWriter, StaticReader } from '../../src/stores/redis/codec.js';

const NOW = 1_764_876_000_000;
const text = (extra: Partial<JobSpec> = {}, at = NOW) => new StaticJsonWriter().write(resolveSpec({ task: 't', queue: 'q', payload: { n: 1 }, ...extra }, at));

/** What parseStatic gives: the stored object with the defaults staticJson leaves out. */
const full = (t: string) => ({ timeout: 0, description: null, tags: [], callbacks: null, scheduleId: null, ...JSON.parse(t) });

it('reads every static JSON text as JSON.parse does, after texts that share its head and tail', () => {
  const texts = [
    text(),
    text({ payload: { n: 2 } }),
    // Payloads holding what the head and tail are told by: as keys, inside strings, nested.
    text({ payload: { backoff: { type: 'fixed', delay: 1 }, createdAt: 5 } }),
    text({ payload: ',"backoff":{"type":"fixed","delay":1},"createdAt":5}' }),
    text({ payload: { s: '","payload":', t: 'a\\",\\"backoff\\":{}' } }),
    text({ payload: [1, { backoff: {} }, ',"backoff":'] }),
    text({ payload: null }),
    text({ payload: 'plain' }),
    text({ payload: 7 }),
    text({ payload: { '__proto__': { polluted: true } } }),
    text({ payload: { text: 'héllo ✓ 😀 "quoted" \\ back' } }),
    // The same payloads with other tasks, times and policies, and fields after createdAt.
    text({ task: 'with"quote' }),
    text({ task: 'back\\slash', payload: { n: 3 } }),
    text({ task: 'tâche' }),
    text({}, NOW + 1),
    text({ backoff: { type: 'fixed', delay: 5 } }),
    text({ backoff: { type: 'list', delays: [1, 2] } }),
    text({ payload: { n: 4 }, timeout: 50, tags: ['a'], description: 'd' }),
    text({ payload: { n: 5 }, timeout: 50 }),
    text(),
    // Not written by this version, but a text Redis may hold: a member between payload and backoff.
    text().replace(',"backoff":', ',"tags":["x"],"backoff":'),
  ];
  const reader = new StaticReader();
  // Twice over, and each text after each other one: every pair of last-learnt and read text.
  for (const learnt of texts) {
    for (const t of texts) {
      reader.read(learnt);
      assert.deepEqual(reader.read(t), full(t), `${t} after ${learnt}`);
    }
  }
});

it('gives each job its own policy object', () => {
  const reader = new StaticReader();
  const a = reader.read(text({ payload: { n: 1 } }));
  const b = reader.read(text({ payload: { n: 2 } }));
  const c = reader.read(text({ payload: { n: 3 } }));
  assert.notEqual(b.backoff, c.backoff);
  assert.notEqual(a.backoff, b.backoff);
  (b.backoff as { base?: number }).base = 1;
  assert.deepEqual(c.backoff, JSON.parse(staticJson(resolveSpec({ task: 't', queue: 'q' }, NOW))).backoff);
});

it('keeps the head and tail it learnt when told not to learn (a claim of one row)', () => {
  const reader = new StaticReader();
  const batch = text({ payload: { n: 1 } });
  const lone = text({ task: 'other', payload: { n: 2 } });
  reader.read(batch);
  assert.ok(reader.shares(text({ payload: { n: 3 } })));
  assert.deepEqual(reader.read(lone, false), full(lone));
  assert.ok(reader.shares(text({ payload: { n: 4 } })), 'the batch\'s head and tail are kept');
  assert.ok(!reader.shares(lone));
  reader.read(lone);
  assert.ok(reader.shares(lone), 'learnt when told to');
});

it('learns from a lone row while it keeps nothing (a worker claiming one job at a time)', () => {
  const reader = new StaticReader();
  const lone = text({ payload: { n: 1 } });
  assert.deepEqual(reader.read(lone, false), full(lone));
  assert.ok(reader.shares(text({ payload: { n: 2 } })), 'the first text\'s head and tail are kept');
});
