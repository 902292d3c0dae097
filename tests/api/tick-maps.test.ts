// tick-maps.ts pins one process.nextTick entry for the life of the process. It finds that entry
// through an async hook's init for type 'TickObject': should Node rename the type or build the
// entries elsewhere, the pin would silently do nothing. This test says so instead.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pinnedTickObject } from '../../src/api/tick-maps.js';

describe('nextTick entry pinned by tick-maps', () => {
  it('holds an entry made by process.nextTick (a callback and its args)', () => {
    const entry = pinnedTickObject() as { callback?: unknown; args?: unknown } | undefined;
    assert.ok(entry, 'an entry was captured at import');
    assert.equal(typeof entry.callback, 'function');
    assert.ok('args' in entry);
  });
});
