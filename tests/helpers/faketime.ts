// Processes whose wall clock is set apart from the machine's, as on a machine whose clock is off:
// libfaketime (Debian package faketime), preloaded into the child. Only the wall clock moves: the
// monotonic clock (timers, performance.now) stays the machine's, as a wrong or stepped wall clock
// leaves it. Without the library the tests that need it skip loudly, or fail under CI=true.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The machine's monotonic clock in ms: every process shares it, whatever its wall clock says. */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime', '/usr/local/lib/faketime'];

function findLibrary(): string | null {
  for (const dir of LIB_DIRS) {
    if (existsSync(dir) && readdirSync(dir).includes('libfaketime.so.1')) return join(dir, 'libfaketime.so.1');
  }
  return null;
}

const LIBRARY = findLibrary();

/** false when wall clocks can be set apart here, else why not (under CI=true: throws). */
export function faketimeSkip(): string | false {
  if (LIBRARY) return false;
  const why = 'libfaketime is not installed (apt-get install faketime): cannot set a process\'s clock apart';
  if (process.env.CI === 'true') throw new Error(`${why}. CI=true requires it for the clock skew tests.`);
  console.error(`\n${'!'.repeat(78)}\n!! SKIPPING CLOCK SKEW TESTS: ${why}\n${'!'.repeat(78)}\n`);
  return why;
}

/** The environment of a child whose wall clock runs `offsetSeconds` off the machine's. */
export function skewedClock(offsetSeconds: number): Record<string, string> {
  return { LD_PRELOAD: LIBRARY!, FAKETIME: `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/**
 * A child's wall clock that the test steps while it runs (`step(+600)`: ten minutes ahead of the
 * machine's from now on), through a file libfaketime reads again every second.
 */
export function steppedClock(dir: string): { env: Record<string, string>; step(offsetSeconds: number): void } {
  const file = join(dir, 'faketime.rc');
  const step = (s: number) => writeFileSync(file, `${s >= 0 ? '+' : ''}${s}s\n`);
  step(0);
  return {
    env: { LD_PRELOAD: LIBRARY!, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    step,
  };
}
