// Mail over its provider's send rate (a campaign of lab reports, each with its PDF): the mails past
// the longest wait for a send slot are snoozed before they download anything, so each downloads its
// attachment once; and a mail takes its slot once its attachment is in, so the rate spaces the
// sends however long each download takes. A real SMTP server, loopback file servers and a real
// SQLite store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../src/core/job.js';
import type { SmtpProvider } from '../../src/channels/email/providers/smtp.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { fileServer, smtpSink } from './email-fixtures.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const RATE = 10;
const MAILS = 30;
const PDF = Buffer.from('%PDF-1.4 a lab report\n');

/** A Fusion on SQLite whose one email provider, an SMTP server on loopback, takes `rate` mails a second. */
async function rateLimitedMail(rate: number, port: number) {
  return sqliteFusion(undefined, {
    outgoing: { allow: ['127.0.0.1/32'] },
    channels: {
      email: {
        providers: { relay: { type: 'smtp', host: '127.0.0.1', port, requireTLS: false, from: 'Lab <noreply@lab.example>', ratePerSecond: rate } },
        routes: { default: ['relay'] },
      } as never,
    },
  });
}

describe('email over its provider send rate', () => {
  it('mails past the wait are snoozed and each downloads its attachment once', async () => {
    const sink = await smtpSink({ parse: false });
    const files = await fileServer({
      '/files/report.pdf': () => ({ headers: { 'content-type': 'application/pdf', 'content-length': String(PDF.length) }, body: PDF }),
    });
    const kit = await rateLimitedMail(RATE, sink.port);
    try {
      const jobs: Job[] = [];
      for (let n = 0; n < MAILS; n++) {
        jobs.push(await kit.fusion.enqueue({
          task: 'email', maxAttempts: 1,
          payload: { to: `p${n}@patient.example`, subject: `Report ${n}`, text: 'attached', attachments: [{ url: `${files.base}/files/report.pdf?n=${n}` }] },
        }));
      }
      kit.fusion.worker({ queues: ['email'], concurrency: MAILS, pollMs: 25 });
      const ends = await Promise.all(jobs.map((j) => waitForState(kit.store, j.id, ['completed', 'failed'], 30_000)));
      assert.deepEqual(ends.map((j) => [j.state, j.attempts]), jobs.map(() => ['completed', 1]), JSON.stringify(ends.find((j) => j.state !== 'completed')?.error));
      const snoozed = ends.filter((j) => j.history.some((h) => h.outcome === 'snoozed')).length;
      // RATE slots a second can be waited for up to a second: the rest of the burst is put off.
      assert.ok(snoozed >= MAILS - 2 * RATE - 5, `${snoozed} of ${MAILS} snoozed`);
      const downloads = new Map<string, number>();
      for (const r of files.requests.filter((x) => x.method === 'GET')) downloads.set(r.path, (downloads.get(r.path) ?? 0) + 1);
      assert.equal(downloads.size, MAILS, 'every attachment downloaded');
      assert.deepEqual([...downloads.values()].filter((k) => k !== 1), [], 'each attachment downloaded once, snoozed or not');
      assert.equal(sink.received.length, MAILS, 'each mail sent once');
      console.log(JSON.stringify({ test: 'email-rate', mails: MAILS, snoozed, downloads: files.requests.length }));
    } finally {
      (kit.fusion.channels.providers!.email!.relay as SmtpProvider).close();
      await kit.cleanup();
      await files.close();
      await sink.close();
    }
  });

  it('the rate spaces the sends, not the slots: mails whose downloads take different times do not go out together', async () => {
    // Six mails at 5/s, the first one's file the slowest to download (1,000 ms down to 250): taken
    // before its download, each slot would be passed by the time its file came, and all six would
    // go out at once when the first download ended.
    const SLOW = 6;
    const sink = await smtpSink({ parse: false });
    const files = createServer((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('n'));
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(PDF.length) }).end(PDF), 1000 - 150 * n);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    const kit = await rateLimitedMail(5, sink.port);
    try {
      const jobs: Job[] = [];
      for (let n = 0; n < SLOW; n++) {
        jobs.push(await kit.fusion.enqueue({
          task: 'email', maxAttempts: 1,
          payload: { to: `s${n}@patient.example`, subject: `Report ${n}`, text: 'attached', attachments: [{ url: `${base}/report.pdf?n=${n}` }] },
        }));
      }
      kit.fusion.worker({ queues: ['email'], concurrency: SLOW, pollMs: 25 });
      const ends = await Promise.all(jobs.map((j) => waitForState(kit.store, j.id, ['completed', 'failed'], 30_000)));
      assert.deepEqual(ends.map((j) => j.state), jobs.map(() => 'completed'));
      const at = sink.received.map((r) => r.at).sort((a, b) => a - b);
      const gaps = at.slice(1).map((t, k) => Math.round(t - at[k]!));
      // Slots 200 ms apart. Arrivals are timed at the SMTP server, after each connection's greeting
      // (a mail on a new connection of the pool arrives later): two may come closer, not together.
      assert.ok(Math.min(...gaps) >= 50, `gaps between sends ${gaps.join(', ')} ms`);
      console.log(JSON.stringify({ test: 'email-rate-spacing', mails: SLOW, gapsMs: gaps }));
    } finally {
      (kit.fusion.channels.providers!.email!.relay as SmtpProvider).close();
      await kit.cleanup();
      files.closeAllConnections();
      await new Promise((r) => files.close(r));
      await sink.close();
    }
  });
});
