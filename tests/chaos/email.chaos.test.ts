// Chaos in email delivery: mail through the smtp provider (nodemailer's pooled transport) to two real
// SMTP servers on loopback (smtp-server) on one route. For a while the first turns connections away
// with 421 at the greeting, answers 451 to the message, drops the connection before answering it,
// and refuses connections, in turns; the second answers 451 a third of the time. Every mail is
// delivered once the servers recover, failover engages, and no mail is accepted twice (counted per
// message at the servers: a message is accepted when a server answers 250 to its data).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Fusion } from '../../src/fusion.js';
import { until } from '../helpers/await.js';
import { STORES, allJobs, report, size, sleep } from '../helpers/chaos.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));

type Mode = 'ok' | 'greet421' | 'data451' | 'drop' | 'refused';
/** The first server's turns while the faults go on (ms each). Drop first: the pool's connections go, so the greeting turn meets new ones. */
const CYCLE: [Mode, number][] = [['drop', 500], ['greet421', 500], ['refused', 500], ['data451', 500], ['ok', 300]];

/** An SMTP server on loopback whose answers follow `mode()`; counts accepted mail per subject. */
async function smtpStandIn(mode: () => Mode) {
  const accepted = new Map<string, number>();
  const seen: Record<Mode, number> = { ok: 0, greet421: 0, data451: 0, drop: 0, refused: 0 };
  const sockets = new Map<number, Socket>();
  const reply = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const server = new SMTPServer({
    secure: false, disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true, logger: false,
    // 421 turns away new connections at the greeting, and the pool's open ones at their next mail.
    onConnect(_session, cb) {
      if (mode() !== 'greet421') return cb();
      seen.greet421++;
      cb(reply(421, 'Service not available, closing transmission channel'));
    },
    onMailFrom(_address, _session, cb) {
      if (mode() !== 'greet421') return cb();
      seen.greet421++;
      cb(reply(421, 'Service not available, closing transmission channel'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const m = mode();
        if (m === 'drop') {
          seen.drop++;
          return void sockets.get(session.remotePort)?.destroy();
        }
        if (m === 'data451') {
          seen.data451++;
          return cb(reply(451, 'Requested action aborted: local error in processing'));
        }
        seen.ok++;
        const subject = /^Subject: (.*)$/im.exec(Buffer.concat(chunks).toString('utf8'))?.[1]?.trim() ?? '';
        accepted.set(subject, (accepted.get(subject) ?? 0) + 1);
        cb(null, 'queued');
      });
    },
  });
  server.on('error', () => {});
  server.server.on('connection', (s: Socket) => {
    const port = s.remotePort!;
    sockets.set(port, s);
    s.once('close', () => sockets.get(port) === s && sockets.delete(port));
  });
  const listen = (port = 0) => new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen(port, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  await listen();
  const port = (server.server.address() as { port: number }).port;
  let listening = true;
  /** refused: stop listening and cut every connection; else listen again. */
  const refuse = async (on: boolean) => {
    if (on && listening) {
      listening = false;
      const closed = new Promise((r) => server.server.close(r));
      for (const s of sockets.values()) s.destroy();
      await closed;
      seen.refused++;
    } else if (!on && !listening) {
      await listen(port);
      listening = true;
    }
  };
  return {
    port, accepted, seen, refuse,
    close: async () => {
      await refuse(true);
    },
  };
}

STORES.forEach((factory, i) => {
  describe(`chaos: email delivery faults on ${factory.name}`, { skip: skips[i] }, () => {
    it('an SMTP server that turns connections away, answers 451, drops and refuses; a second on the route: all delivered, failover, none accepted twice', async () => {
      const t = await factory.create();
      const FAULT_MS = size(4000, 60_000);
      const PER_TICK = size(10, 6);
      let aMode: Mode = 'ok';
      let bTurn = 0;
      let faultUntil = Infinity;
      const a = await smtpStandIn(() => aMode);
      const b = await smtpStandIn(() => (Date.now() < faultUntil && bTurn++ % 3 === 0 ? 'data451' : 'ok'));
      const relay = (port: number) => ({ type: 'smtp', host: '127.0.0.1', port, requireTLS: false, from: 'Lab <noreply@lab.example>' });
      const fusion = await Fusion.open({
        store: t.url,
        config: { channels: { email: { providers: { a: relay(a.port), b: relay(b.port) }, routes: { default: ['a', 'b'] } } } },
      });
      const started = Date.now();
      let flapping: Promise<void> = Promise.resolve();
      try {
        faultUntil = started + FAULT_MS;
        flapping = (async () => {
          while (Date.now() < faultUntil) {
            for (const [mode, ms] of CYCLE) {
              aMode = mode;
              await a.refuse(mode === 'refused');
              await sleep(ms);
            }
          }
          aMode = 'ok';
          await a.refuse(false);
        })();
        fusion.worker({ queues: ['email'], concurrency: 16, pollMs: 25, leaseMs: 30_000 });
        // Mails keep coming for as long as the faults go on, so every turn of the first server meets
        // some. Attempts enough to outlast the faults at 50 ms apart: the promise is delivery once the
        // servers recover, not within a retry budget.
        const bySubject = new Map<string, string>();
        let n = 0;
        while (Date.now() < faultUntil) {
          const batch = await Promise.all(Array.from({ length: PER_TICK }, (_, j) =>
            fusion.enqueue('email', { to: `patient${n + j}@clinic.example`, subject: `chaos ${n + j}`, message: '<p>your report is ready</p>' },
              { maxAttempts: 1000, backoff: { type: 'fixed', delay: 50 } })));
          batch.forEach((job, j) => bySubject.set(`chaos ${n + j}`, job.id));
          n += PER_TICK;
          await sleep(100);
        }
        const N = n;
        await flapping;
        await until(async () => {
          const c = (await fusion.store.countJobs({ queue: 'email' })).email!;
          return c.completed + c.failed === N;
        }, size(60_000, 120_000), `all ${N} mails settled`, 100);
        const jobs = await allJobs(fusion.store, 'email');
        const completed = jobs.filter((j) => j.state === 'completed');
        const provider = (id: string) => (completed.find((j) => j.id === id)?.result as { provider?: string } | undefined)?.provider;
        const viaB = completed.filter((j) => (j.result as { provider: string }).provider === 'b').length;
        const twice = [...a.accepted, ...b.accepted].filter(([s]) => (a.accepted.get(s) ?? 0) + (b.accepted.get(s) ?? 0) > 1).map(([s]) => s);
        const lastDelivered = Math.max(...completed.map((j) => j.endedAt!));
        // Refused connections as the client saw them (the server cannot count a connection it refused).
        const refusedAttempts = jobs.reduce((n, j) => n + j.history.filter((h) => /ECONNREFUSED/.test(h.error ?? '')).length, 0);
        report({
          test: 'email-faults', store: t.store, jobs: N, acknowledged: N, completed: completed.length, lost: N - completed.length,
          viaB, acceptedTwice: new Set(twice).size, duplicateExecutions: new Set(twice).size, served: { a: a.seen, b: b.seen }, refusedAttempts,
          faultMs: FAULT_MS, drainedAfterFaultMs: lastDelivered - faultUntil,
        });
        assert.equal(completed.length, N, `every mail delivered (${jobs.filter((j) => j.state !== 'completed').map((j) => j.error?.message).slice(0, 3).join('; ')})`);
        assert.deepEqual(twice, [], 'no mail accepted twice');
        for (const [subject, id] of bySubject) {
          const at = a.accepted.has(subject) ? 'a' : b.accepted.has(subject) ? 'b' : 'nowhere';
          assert.equal(provider(id), at, `${subject}: accepted by ${at}, its result names the same provider`);
        }
        assert.ok(viaB > 0, 'failover engaged: mails delivered by the second server');
        for (const m of ['greet421', 'data451', 'drop'] as const) assert.ok(a.seen[m] > 0, `the first server played ${m}: ${JSON.stringify(a.seen)}`);
        assert.ok(refusedAttempts > 0, 'attempts met a refused connection');
      } finally {
        faultUntil = 0;
        await flapping.catch(() => {});
        await fusion.close(500);
        await a.close();
        await b.close();
        await t.cleanup();
      }
    });
  });
});
