// SMTP row of the channel benchmarks: mails per second to an in-process SMTP server (smtp-server)
// through Fusion's smtp provider (pooled nodemailer transport, message built from an OutgoingEmail)
// beside nodemailer alone with the same pool settings, in the same run and against the same server;
// plus the whole path (email jobs on a SQLite store, a worker, screening, the provider) for scale.
// Runs alternate and the best of each is kept, so a noisy neighbour hurts both sides alike.
// `npm run bench:channels` includes these rows; alone: npm run bench:channels:smtp [-- mails=2000 concurrency=20 rounds=3]
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { smtp, type SmtpProvider } from '../src/channels/email/providers/smtp.js';
import type { OutgoingEmail } from '../src/channels/email/message.js';
import { Fusion } from '../src/fusion.js';
import { MIN_PERIOD_MS } from '../src/core/worker-options.js';
import { smtpSink } from '../tests/channels/email-fixtures.js';
import { tempDir } from '../tests/helpers/tmp.js';

const arg = (k: string, d: number) => Number(process.argv.find((a) => a.startsWith(`${k}=`))?.split('=')[1] ?? d);
const MAILS = arg('mails', 2000);
const CONC = arg('concurrency', 20);
const ROUNDS = arg('smtp-rounds', arg('rounds', 3));
const POOL = { maxConnections: 5, maxMessages: 1000 };

const mail = (i: number): OutgoingEmail => ({
  from: { name: 'Bench', address: 'bench@lab.example' }, replyTo: [], to: [`r${i}@patient.example`], cc: [], bcc: [],
  subject: `Report ${i}`, html: `<p>Hello ${i}</p>`, text: `Hello ${i}`, attachments: [], headers: {},
});

async function drive(n: number, conc: number, send: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) await send(next++);
  }));
  return n / ((performance.now() - t0) / 1000);
}

let sink: Awaited<ReturnType<typeof smtpSink>>;
const ctx = { signal: new AbortController().signal, dispatcher: undefined as never, now: () => Date.now(), jobId: 'bench', attempt: 1 };

async function nodemailerAlone(): Promise<number> {
  const t = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, ...POOL });
  await t.sendMail({ from: 'bench@lab.example', to: 'warm@patient.example', subject: 'warm', text: 'w' });
  const m = mail(0);
  const rate = await drive(MAILS, CONC, (i) => t.sendMail({ from: '"Bench" <bench@lab.example>', to: `r${i}@patient.example`, subject: `Report ${i}`, html: `<p>Hello ${i}</p>`, text: `Hello ${i}`, headers: m.headers }));
  t.close();
  return rate;
}

async function fusionProvider(): Promise<number> {
  const p = smtp.create('bench', { host: '127.0.0.1', port: sink.port, requireTLS: false, ...POOL }) as SmtpProvider;
  await p.send(mail(-1), ctx);
  const rate = await drive(MAILS, CONC, (i) => p.send(mail(i), ctx));
  p.close();
  return rate;
}

async function fusionJobs(): Promise<number> {
  const tmp = tempDir('fusion-bench-smtp-');
  const fusion = await Fusion.open({
    store: `sqlite:${join(tmp.dir, 'b.db')}`,
    config: { channels: { email: { providers: { relay: { type: 'smtp', host: '127.0.0.1', port: sink.port, requireTLS: false, from: 'bench@lab.example', ...POOL } } } } },
  });
  const before = sink.received.length;
  const specs = Array.from({ length: MAILS }, (_, i) => ({ task: 'email', payload: { to: `r${i}@patient.example`, subject: `Report ${i}`, html: `<p>Hello ${i}</p>` } }));
  for (let i = 0; i < specs.length; i += 500) await fusion.queue.enqueueMany(specs.slice(i, i + 500));
  const t0 = performance.now();
  // The shortest idle poll a worker takes (it was 5, which workers now refuse).
  fusion.worker({ queues: ['email'], concurrency: CONC, pollMs: MIN_PERIOD_MS });
  while (sink.received.length - before < MAILS) await new Promise((r) => setTimeout(r, 5));
  const rate = MAILS / ((performance.now() - t0) / 1000);
  (fusion.channels.providers!.email!.relay as SmtpProvider).close();
  await fusion.close(1000);
  tmp.remove();
  return rate;
}

/** The SMTP rows, as JSON: nodemailer alone, Fusion's provider, and the whole job path, in mails per second. */
export async function smtpRows(): Promise<Record<string, unknown>> {
  sink = await smtpSink({ parse: false });
  const best = { nodemailer: 0, provider: 0, jobs: 0 };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      best.nodemailer = Math.max(best.nodemailer, await nodemailerAlone());
      best.provider = Math.max(best.provider, await fusionProvider());
    }
    best.jobs = await fusionJobs();
  } finally {
    await sink.close();
  }
  const r = (x: number) => Math.round(x);
  return {
    unit: 'mails/s', mails: MAILS, concurrency: CONC, pool: POOL.maxConnections, rounds: ROUNDS, kept: 'best of the rounds',
    nodemailer_alone: r(best.nodemailer), fusion_smtp_provider: r(best.provider), fusion_email_jobs: r(best.jobs),
    provider_vs_nodemailer: Math.round((best.provider / best.nodemailer) * 1000) / 1000, target: 0.8,
    jobs_vs_nodemailer: Math.round((best.jobs / best.nodemailer) * 1000) / 1000,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify({ bench: 'channels-smtp', ...(await smtpRows()) }, null, 2));
