// How `fusion start` and `fusion worker` split their queues into lanes (src/cli/lanes.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLanes, workerLanes } from '../../src/cli/lanes.js';

describe('worker lanes', () => {
  it('every known queue a lane of its own by default, each once', () => {
    assert.deepEqual(workerLanes(undefined, ['default', 'callbacks', 'sms', 'default']), [{ queues: ['default'] }, { queues: ['callbacks'] }, { queues: ['sms'] }]);
  });

  it('--queues: commas separate lanes, + joins queues in one lane (in order), spaces and empty items ignored', () => {
    assert.deepEqual(parseLanes('sms,email'), [{ queues: ['sms'] }, { queues: ['email'] }]);
    assert.deepEqual(parseLanes(' sms + email , webhook,,'), [{ queues: ['sms', 'email'] }, { queues: ['webhook'] }]);
    assert.deepEqual(workerLanes('a+b+c', ['x']), [{ queues: ['a', 'b', 'c'] }]);
  });

  it('=N gives a lane its own slot count; queue names may hold a colon', () => {
    assert.deepEqual(parseLanes('sms=50,webhook+callbacks = 5,tenant:a'), [
      { queues: ['sms'], concurrency: 50 }, { queues: ['webhook', 'callbacks'], concurrency: 5 }, { queues: ['tenant:a'] },
    ]);
  });

  it('refuses a list with no queue, a name no queue may have, a queue in two lanes, and a slot count that is not a whole number of at least 1', () => {
    assert.throws(() => parseLanes(' , +'), /names no queue/);
    assert.throws(() => parseLanes('sms,email+sms'), /names "sms" twice/);
    for (const bad of ['sms=0', 'sms=2.5', 'sms=', 'sms=x', 'sms=1=2', 'sms=1e1', 'sms=0x10']) assert.throws(() => parseLanes(bad), /whole number of at least 1/, bad);
    for (const bad of ['sms email', 'sms;email', 'sms/x']) assert.throws(() => parseLanes(bad), /is no queue name/, bad);
    assert.throws(() => parseLanes('=5'), /slot count to no queue/);
  });
});
