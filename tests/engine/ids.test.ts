// Job ids: UUIDv7 strings that sort in creation order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headOfId, ID_HEAD_LENGTH, newId } from '../../src/core/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('newId', () => {
  // First in the file: no id is made yet, and the empty string is no id's (the last id made starts unset).
  it('gives no head for an empty id before any id is made', () => {
    assert.equal(headOfId(''), null);
  });

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

  it('gives an id\'s head: the last id made, an earlier one, one built elsewhere; none for another shape', () => {
    const earlier = newId();
    const ids = Array.from({ length: 200 }, newId);
    const last = ids.at(-1)!;
    assert.equal(headOfId(last), last.slice(0, ID_HEAD_LENGTH));
    assert.equal(headOfId(earlier), earlier.slice(0, ID_HEAD_LENGTH));
    // Equal text, another string: read from its characters.
    const copy = [...last].join('');
    assert.equal(headOfId(copy), last.slice(0, ID_HEAD_LENGTH));
    assert.equal(headOfId('0190a1b2-c3d4-7e5f-8a6b-000000000001'), '0190a1b2-c3d4-7e5f-8a6b-');
    for (const other of ['order-42', '0190a1b2-c3d4-4e5f-8a6b-000000000001', '0190a1b2-c3d4-7e5f-8a6bx000000000001', `${last}0`]) {
      assert.equal(headOfId(other), null, other);
    }
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
