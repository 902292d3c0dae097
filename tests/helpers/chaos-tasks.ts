// Task module for `fusion server --tasks` in the chaos suite: declares the `chaos` task (queue
// `chaos`) so the API accepts its jobs; the chaos worker processes run them.
import type { Fusion } from '../../src/fusion.js';

export default function register(fusion: Fusion): void {
  fusion.task('chaos', async () => null, { queue: 'chaos' });
}
