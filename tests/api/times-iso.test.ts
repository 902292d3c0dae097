// Answers write times as ISO strings through isoOf (times.ts), which reuses the text up to the
// second: it must give what toISOString gives, for every time, in any order of calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iso, isoOf } from '../../src/api/times.js';

const expected = (t: number) => new Date(t).toISOString();

test('isoOf equals toISOString across second, minute, day, month and year edges, in order and out of it', () => {
  const edges = [
    0, 1, 999, 1000, 59_999, 60_000, 86_399_999, 86_400_000,
    Date.UTC(2024, 1, 28, 23, 59, 59, 999), Date.UTC(2024, 1, 29), Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1),
    Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ];
  const times: number[] = [];
  for (const e of edges) for (let d = -3; d <= 3; d++) if (e + d >= 0) times.push(e + d);
  // Runs of calls within one second (the cached prefix) and jumps back and forth between seconds.
  let t = Date.UTC(2026, 11, 4, 19, 40, 12, 0);
  for (let i = 0; i < 5000; i++) {
    t += i % 7 === 0 ? -1500 : 1 + (i % 13);
    times.push(t);
  }
  let seed = 42;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    times.push(Math.floor((seed / 2 ** 31) * Date.UTC(9999, 11, 31)));
  }
  for (const x of times) assert.equal(isoOf(x), expected(x), `t=${x}`);
  for (const x of [...times].reverse()) assert.equal(isoOf(x), expected(x), `t=${x} (reversed)`);
});

test('isoOf hands times outside 1970-9999 and fractional times to toISOString, errors included', () => {
  const within = Date.UTC(2026, 11, 4, 19, 40, 12, 500);
  for (const x of [-1, -1000, -62_198_755_200_000, Date.UTC(10_000, 0, 1), 8.64e15, -8.64e15, within + 0.5, within + 0.999, within - 0.25]) {
    isoOf(within); // a cached prefix for the second nearby, which none of these may use
    assert.equal(isoOf(x), expected(x), `t=${x}`);
  }
  assert.throws(() => isoOf(NaN), RangeError);
  assert.throws(() => isoOf(8.64e15 + 1), RangeError);
  assert.equal(iso(null), null);
  assert.equal(iso(undefined), null);
  assert.equal(iso(within), expected(within));
  assert.equal(iso(within + 1), expected(within + 1));
});
