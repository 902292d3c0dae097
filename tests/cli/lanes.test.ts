// How `fusion start` and `fusion worker` split their queues into lanes (src/cli/lanes.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLanes, workerLanes } from '../../src/cli/lanes.js';

describe('worker lanes', () => {
  it('every known queue a lane of its own by default, each once', () => {
    assert.deepEqual(workerLanes(undefined, ['default', 'callbacks', 'sms', 'default']), [['default'], ['callbacks'], ['sms']]);
  });

  it('--queues: commas separate lanes, + joins queues in one lane (in order), spaces and empty items ignored', () => {
    assert.deepEqual(parseLanes('sms,email'), [['sms'], ['email']]);
    assert.deepEqual(parseLanes(' sms + email , webhook,,'), [['sms', 'email'], ['webhook']]);
    assert.deepEqual(workerLanes('a+b+c', ['x']), [['a', 'b', 'c']]);
  });

  it('refuses a list with no queue, and a queue in two lanes', () => {
    assert.throws(() => parseLanes(' , +'), /names no queue/);
    assert.throws(() => parseLanes('sms,email+sms'), /names "sms" twice/);
  });
});
