// The README's quick start, runnable: `npm run build && node dist/examples/quickstart.js`.
// In your own project, import from 'fusion-hub' instead of '../src/index.js'.
import { Fusion, NonRetryableError } from '../src/index.js';

const fusion = await Fusion.open({ store: process.env.FUSION_STORE ?? 'sqlite:./data/quickstart.db' });

// A handler is an async function of (payload, ctx). Throwing retries with backoff;
// NonRetryableError fails at once; ctx.signal aborts on timeout or cancel.
fusion.task('send-otp', async (p: { phone: string; code: string }, ctx) => {
  if (!/^\+\d{8,15}$/.test(p.phone)) throw new NonRetryableError(`bad phone number ${p.phone}`);
  await ctx.log(`sending OTP to ${p.phone.slice(0, 4)}…`);
  return { delivered: true, attempt: ctx.attempt };
}, { queue: 'sms', priority: 'high', maxAttempts: 5 });

const worker = fusion.worker({ queues: ['sms'], concurrency: 20 });

const job = await fusion.enqueue('send-otp', { phone: '+919800000000', code: '4321' });
const bad = await fusion.enqueue('send-otp', { phone: 'nope', code: '1' });
const later = await fusion.enqueue('send-otp', { phone: '+919800000001', code: '9' }, { delay: 60_000 });

// Wait for the outcomes through store events (a real app would not wait at all).
const done = new Set(['completed', 'failed']);
await new Promise<void>((resolve) => {
  const check = async () => {
    const states = await Promise.all([job.id, bad.id].map(async (id) => (await fusion.queue.get(id))!.state));
    if (states.every((s) => done.has(s))) (off(), resolve());
  };
  const off = fusion.store.subscribe(() => void check());
  void check();
});

console.log('otp:', (await fusion.queue.get(job.id))!.state, JSON.stringify((await fusion.queue.get(job.id))!.result));
console.log('bad:', (await fusion.queue.get(bad.id))!.state, (await fusion.queue.get(bad.id))!.error!.message);
console.log('later:', (await fusion.queue.get(later.id))!.state);
await fusion.queue.cancel(later.id);
await worker.stop();
await fusion.close();
