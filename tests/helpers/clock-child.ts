// A process for the shared clock's step test: it runs a SharedClock whose "server" is the machine's
// true time (the parent's wall clock at a monotonic instant, carried on by the monotonic clock,
// which libfaketime leaves alone), and prints every 50 ms how far its own wall clock and the shared
// clock are from that true time: `<wall - true> <shared - true>`.
//   node clock-child.js <parent's Date.now() minus its monotonic ms>
import { SharedClock } from '../../src/core/shared-clock.js';

const trueMinusMonotonic = Number(process.argv[2]);
const monotonicMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const trueNow = () => trueMinusMonotonic + monotonicMs();
// Read often, so the test need not wait for it: the point is what happens between reads.
const clock = await new SharedClock(async () => trueNow(), { syncMs: 60_000 }).start();
const timer = setInterval(() => {
  const now = trueNow();
  process.stdout.write(`${Math.round(Date.now() - now)} ${Math.round(clock.now() - now)}\n`);
}, 50);
process.on('SIGTERM', () => {
  clearInterval(timer);
  clock.stop();
});
