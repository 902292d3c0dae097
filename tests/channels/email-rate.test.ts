// Mail over its provider's send rate (a campaign of lab reports, each with its PDF): the mails past
// the longest wait for a send slot are snoozed, and each downloads its attachment once, when its
// slot is taken, not also before a snooze that throws it away. A real SMTP server, a loopback file
// server and a real SQLite store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../src/core/job.js';
import type { SmtpProvider } from '../../src/channels/email/providers/smtp.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { fileServer, smtpSink } from './email-fixtures.js';

const RATE = 10;
const MAILS = 30;
const PDF = Buffer.from('%PDF-1.4 a lab report\n');

describe('email over its provider send rate', () => {
  it('mails past the wait are snoozed and each downloads its attachment once, after its send slot is taken', async () => {
    const sink = await smtpSink({ parse: false });
    const files = await fileServer({
      '/files/report.pdf': () => ({ headers: { 'content-type': 'application/pdf', 'content-length': String(PDF.length) }, body: PDF }),
    });
    const kit = await sqliteFusion(undefined, {
      outgoing: { allow: ['127.0.0.1/32'] },
      channels: {
        email: {
          providers: { relay: { type: 'smtp', host: '127.0.0.1', port: sink.port, requireTLS: false, from: 'Lab <noreply@lab.example>', ratePerSecond: RATE } },
          routes: { default: ['relay'] },
        } as never,
      },
    });
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
});
