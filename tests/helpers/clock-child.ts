// A process for the shared clock's tests under libfaketime (tests/engine/shared-clock.test.ts). It
// runs a SharedClock whose "server" tells true time, and prints every 50 ms how far its own wall
// clock is from the machine's true time, how far the shared clock is outside the server's time
// read just before and after it, and how often a chain of 100 ms clock timers has fired:
// `<wall - true> <shared - server> <fires>`. True time is the parent's wall clock at a monotonic instant,
// carried on by the monotonic clock, which libfaketime leaves alone. Modes:
//   step         the parent steps this process's wall clock; the server is read once, at start
//   during-read  the same, with the server read back to back, each of a read's three samples taking
//                ~330 ms (a step lands in one)
//   suspend      a step of the wall clock stands for a suspend: the boot clock moves with it, and
//                the server's time is the wall clock (time went on for everyone while this slept)
//   node clock-child.js <parent's Date.now() minus its monotonic ms> <mode>
import { SharedClock } from '../../src/core/shared-clock.js';
import { monotonicMs } from './faketime.js';

const trueMinusMonotonic = Number(process.argv[2]);
const mode = process.argv[3] as 'step' | 'during-read' | 'suspend';
const trueNow = () => trueMinusMonotonic + monotonicMs();
const wallMinusMonotonic = Date.now() - monotonicMs();
const server = mode === 'suspend' ? () => Date.now() : trueNow;
const clock = await new SharedClock(
  async () => {
    if (mode !== 'during-read') return server();
    // A slow server that reads its clock half-way through the round trip, as a real one does
    // (the clock's estimate; one that read it at the end would be off by half the round trip).
    await new Promise((r) => setTimeout(r, 165));
    const time = server();
    await new Promise((r) => setTimeout(r, 165));
    return time;
  },
  {
    syncMs: mode === 'during-read' ? 1 : 60_000,
    readTimeoutMs: 10_000,
    ...(mode === 'suspend' ? { bootMs: () => Date.now() - wallMinusMonotonic } : {}),
  },
).start();
// A chain of clock timers, as a worker's heartbeat is: each fire arms the next 100 ms on.
let fires = 0;
const chain = () => {
  fires++;
  clock.at(clock.now() + 100, chain);
};
clock.at(clock.now() + 100, chain);
const timer = setInterval(() => {
  // The server's time read on both sides of the shared clock's: a pause of this process between
  // the reads (a loaded machine) widens the window instead of showing as an error.
  const before = server();
  const shared = clock.now();
  const after = server();
  const error = shared < before ? shared - before : shared > after ? shared - after : 0;
  process.stdout.write(`${Math.round(Date.now() - trueNow())} ${Math.round(error)} ${fires}\n`);
}, 50);
process.on('SIGTERM', () => {
  clearInterval(timer);
  clock.stop();
  process.exit(0); // the chain's timers are unref'd, but exit at once all the same
});
