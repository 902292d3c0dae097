// Task module for `fusion worker --burst --tasks` in the terminal tests.
import type { Fusion } from '../../src/fusion.js';

export default function register(fusion: Fusion): void {
  fusion.task('tick', async (n: number) => n + 1, { queue: 'ticks' });
}
