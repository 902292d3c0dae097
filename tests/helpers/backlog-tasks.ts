// Task module for `fusion start --tasks` in the lanes test: `report`, a 20 ms job on the `default`
// queue, which a worker serving every queue in one lane drains before `sms`.
import type { Fusion } from '../../src/fusion.js';

export const REPORT_MS = 20;

export default function register(fusion: Fusion): void {
  fusion.task('report', async () => {
    await new Promise((r) => setTimeout(r, REPORT_MS));
    return null;
  }, { queue: 'default' });
}
