// Job ids: UUIDv7 strings that sort in creation order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../src/core/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('newId', () => {
  it('makes RFC 9562 version 7 ids carrying the creation time in ms', () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    assert.match(id, UUID_V7);
    assert.ok(timeOf(id) >= before && timeOf(id) <= after, `${timeOf(id)} within [${before}, ${after}]`);
  });

  it('every id sorts after the previous one and none repeats, across many ids per millisecond and pool refills', () => {
    const ids = Array.from({ length: 50_000 }, newId);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} > ${ids[i - 1]}`);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => UUID_V7.test(id)));
  });

  it('the random parts differ between ids of one millisecond', () => {
    const tails = new Set(Array.from({ length: 1000 }, () => newId().slice(-10)));
    assert.ok(tails.size > 990, `${tails.size} distinct tails of 1000`);
  });

  it('stays increasing when the clock steps back', () => {
    const real = Date.now;
    const first = newId();
    try {
      Date.now = () => real() - 60_000;
      const later = [newId(), newId()];
      assert.ok(later[0]! > first && later[1]! > later[0]!);
      assert.equal(timeOf(later[0]!), timeOf(first), 'keeps the last time rather than going back');
    } finally {
      Date.now = real;
    }
  });
});
