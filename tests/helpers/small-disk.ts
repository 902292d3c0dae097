// A disk of the test's own that fills fast: a tmpfs of a few MB mounted on a new directory. Mounting
// needs privileges (root, as on this machine and CI's); where it is refused, the tests that need
// one skip with a loud message.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A tmpfs of `sizeMb` mounted on a new directory, or why none can be. */
export function smallDisk(sizeMb: number): { dir: string; remove(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'fusion-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${String((err as Error).message).split('\n')[0]}): the full-disk tests need it`;
  }
  return {
    dir,
    remove: () => {
      execFileSync('umount', ['-l', dir]); // lazily: a process still holding a file there must not hide the test's own error
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const probe = smallDisk(1);
/** false where a small disk can be mounted; else why not (said loudly once). */
export const diskSkip: string | false = typeof probe === 'string' ? probe : false;
if (typeof probe === 'string') process.stderr.write(`\n${'!'.repeat(78)}\n!! SKIPPING FULL-DISK TESTS: ${probe}\n${'!'.repeat(78)}\n\n`);
else probe.remove();
