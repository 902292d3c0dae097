// Task module loaded by `fusion worker --tasks` in the shutdown test. Prints a marker when a
// handler starts so the test can wait on the child's output instead of sleeping.
import type { Fusion } from '../../src/fusion.js';

export default function register(fusion: Fusion): void {
  fusion.task('quick', async (_p, ctx) => {
    process.stdout.write(`STARTED ${ctx.job.id}\n`);
    await new Promise((r) => setTimeout(r, 300));
    return 'finished in grace';
  });
  // Ignores its abort signal, as badly written handlers do: shutdown must still give it back.
  fusion.task('stuck', (_p, ctx) => {
    process.stdout.write(`STARTED ${ctx.job.id}\n`);
    return new Promise(() => {});
  });
}
