// The CLI with a config file, as users run it: `fusion config check`, a bad file failing the start
// with exit 2, the boot messages naming dry-run channels and the WhatsApp consent rule, a worker
// serving the channels' queues.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI } from '../helpers/net.js';

const SECRET = `whsec_${Buffer.from('cli-secret-value-271828').toString('base64')}`;

function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, out, err })));
}

/** Start a long-running command; resolve once stdout shows `ready`, with the lines seen so far. */
function startUntil(args: string[], ready: RegExp, opts: { env?: NodeJS.ProcessEnv; cwd?: string }) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const up = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (ready.test(out)) resolve(out);
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (c) => reject(new Error(`exited (${c}) before ready: ${out}${err}`)));
  });
  return { child, up, exit, output: () => out + err };
}

const goodConfig = {
  channels: {
    sms: {
      providers: { india: { type: 'dry-run', countries: ['+91'], ratePerSecond: 20 } },
      routes: { '+91': ['india'], default: ['dry-run'] },
    },
    webhook: { signingSecret: 'env:FUSION_TEST_WH_SECRET' },
  },
};

describe('fusion config check', () => {
  it('prints the routing table, exit 0, and never the secret it resolved', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'fusion.config.json'), JSON.stringify(goodConfig));
      // FUSION_CONFIG relative: resolved from the working directory.
      const r = await run(['config', 'check'], { cwd: t.dir, env: { FUSION_CONFIG: 'fusion.config.json', FUSION_TEST_WH_SECRET: SECRET, FUSION_PUBLIC_URL: 'https://hub.example/' } });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /fusion\.config\.json: valid/);
      assert.match(r.out, /india {2}type dry-run {2}countries \+91 {2}rate 20\/s/);
      assert.match(r.out, /\+91 {5}-> india \[dry-run; countries \+91; rate 20\/s\]/);
      assert.match(r.out, /webhook: signing secret \*\*\*, .*, a slow host \(an answer after 2000 ms\) at most 5 requests at once a process/);
      assert.match(r.out, /callbacks: 20 attempts, backoff from 1000 ms doubling to 3600000 ms \(full jitter\): retried for 4\.1 h on average, 8\.1 h at most; 10 lost leases/);
      assert.match(r.out, /^whatsapp consent: numbers with a recorded opt-out are refused, others are messaged/m);
      assert.match(r.out, /^server: public URL https:\/\/hub\.example, signed callbacks checked against it$/m, 'FUSION_PUBLIC_URL, as the start would take it');
      assert.match(r.out, /channels in dry-run: .*sms/);
      assert.ok(!r.out.includes(SECRET) && !r.err.includes(SECRET), 'the secret is never printed');
    } finally {
      t.remove();
    }
  });

  it('prints no credential that rides inside a URL: user info passwords and secret-named query parameters', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'urls.json'), JSON.stringify({
        channels: {
          // A URL from the environment, as one that carries a token is kept.
          reminder: { deliver: 'webhook', url: 'env:FUSION_TEST_REMINDER_URL' },
          sms: { providers: { gw: { type: 'http', url: 'https://gw.example/send?user=u&password=GwPassw0rd', baseUrl: 'https://api:BaseK3y99@gw.example' } } },
        },
        logging: { elasticsearch: { node: 'https://fusion:p@ssw0rd-es@es.internal:9200' } },
      }));
      const r = await run(['config', 'check', '--config', 'urls.json'], { cwd: t.dir, env: { FUSION_TEST_REMINDER_URL: 'https://notify:N0tifyPass@notify.internal/hook?token=tok-123456&x=1' } });
      assert.equal(r.code, 0, r.err);
      for (const secret of ['N0tifyPass', 'tok-123456', 'GwPassw0rd', 'BaseK3y99', 'ssw0rd-es']) assert.ok(!(r.out + r.err).includes(secret), `"${secret}" printed:\n${r.out}`);
      assert.match(r.out, /^reminder: deliver webhook to https:\/\/notify:\*\*\*@notify\.internal\/hook\?token=\*\*\*&x=1$/m);
      assert.match(r.out, /url=https:\/\/gw\.example\/send\?user=u&password=\*\*\* baseUrl=https:\/\/api:\*\*\*@gw\.example/);
      assert.match(r.out, /elasticsearch https:\/\/fusion:\*\*\*@es\.internal:9200 index fusion/);
    } finally {
      t.remove();
    }
  });

  it('a bad file: exit 2, every bad field by its path, no secret', async () => {
    const t = tempDir();
    try {
      const bad = {
        channels: {
          sms: { providers: { foo: { type: 'bar' } }, routes: { '+91': ['nope'] } },
          webhook: {
            signingSecret: 'env:FUSION_TEST_MISSING', callbackRetry: { maxAttempts: 0, backoff: { type: 'exponential', base: -1 } },
            slowHost: { limit: -1, afterMs: 0 },
          },
        },
      };
      writeFileSync(join(t.dir, 'bad.json'), JSON.stringify(bad));
      const r = await run(['config', 'check', '--config', join(t.dir, 'bad.json')], { env: { FUSION_TEST_WH_SECRET: SECRET } });
      assert.equal(r.code, 2);
      assert.match(r.err, /bad\.json: invalid configuration:/);
      assert.match(r.err, /channels\.sms\.providers\.foo\.type: unknown provider type "bar" \(known: dry-run/);
      assert.match(r.err, /channels\.sms\.routes\["\+91"\]\[0\]: provider "nope" is not configured/);
      assert.match(r.err, /channels\.webhook\.signingSecret: environment variable FUSION_TEST_MISSING is not set/);
      assert.match(r.err, /channels\.webhook\.callbackRetry\.maxAttempts: must be >= 1/);
      assert.match(r.err, /channels\.webhook\.callbackRetry\.backoff: backoff\.base must be a non-negative number/);
      assert.match(r.err, /channels\.webhook\.slowHost\.limit: must be >= 0/);
      assert.match(r.err, /channels\.webhook\.slowHost\.afterMs: must be >= 1/);
      assert.ok(!r.err.includes(SECRET));
      const none = await run(['config', 'check'], { env: { FUSION_CONFIG: '' } });
      assert.equal(none.code, 2);
      assert.match(none.err, /no config file: give --config FILE or set FUSION_CONFIG/);
    } finally {
      t.remove();
    }
  });
});

describe('fusion start / worker with a config', () => {
  it('worker with a bad config file does not start: exit 2 naming the field', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'bad.json'), JSON.stringify({ channels: { sms: { providers: { x: { type: 'dry-run', ratePerSecond: 'fast' } } } } }));
      const r = await run(['worker', '--config', 'bad.json', '--store', `sqlite:${join(t.dir, 'f.db')}`], { cwd: t.dir });
      assert.equal(r.code, 2);
      assert.match(r.err, /channels\.sms\.providers\.x\.ratePerSecond: must be number/);
    } finally {
      t.remove();
    }
  });

  it('an outgoing allow entry, pattern or Elasticsearch node the start could not use: exit 2 naming each field, before anything opens', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'bad.json'), JSON.stringify({
        outgoing: { allow: ['hooks.internal', '10.20.0.0/99', '::1/200'], allowPattern: '(' },
        logging: { elasticsearch: { node: 'es.internal:9200' } },
      }));
      const db = join(t.dir, 'f.db');
      for (const args of [['config', 'check', '--config', 'bad.json'], ['start', '--config', 'bad.json', '--port', '0', '--store', `sqlite:${db}`]]) {
        const r = await run(args, { cwd: t.dir });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, /invalid configuration:/);
        assert.match(r.err, /outgoing\.allow\[1\]: outgoing allow entry "10\.20\.0\.0\/99": an IPv4 prefix is at most \/32/);
        assert.match(r.err, /outgoing\.allow\[2\]: .*an IPv6 prefix is at most \/128/);
        assert.match(r.err, /outgoing\.allowPattern: Invalid regular expression/);
        assert.match(r.err, /logging\.elasticsearch\.node: must be an http or https URL/);
        assert.ok(!r.err.includes('outgoing.allow[0]'), 'a host name is a good entry');
      }
      assert.ok(!existsSync(db), 'the start stopped before it opened the store');
    } finally {
      t.remove();
    }
  });

  it('start says once which channels run dry, serves the channels\' queues by default, and never prints the secret', async () => {
    const t = tempDir();
    mkdirSync(join(t.dir, 'conf'));
    writeFileSync(join(t.dir, 'conf', 'fusion.config.json'), JSON.stringify(goodConfig));
    const db = join(t.dir, 'f.db');
    const env = { FUSION_CONFIG: 'conf/fusion.config.json', FUSION_TEST_WH_SECRET: SECRET, FUSION_PORT: '0' };
    const p = startUntil(['start', '--store', `sqlite:${db}`], /fusion listening/, { cwd: t.dir, env });
    try {
      const out = await p.up;
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; queues?: string[]; channels?: string[]; requireConsent?: boolean });
      const dry = lines.filter((l) => l.msg.startsWith('channels in dry-run'));
      assert.equal(dry.length, 1, 'said once');
      // And which WhatsApp consent rule holds: by default only a recorded opt-out stops a message.
      const consent = lines.filter((l) => l.msg.startsWith('whatsapp consent:'));
      assert.equal(consent.length, 1, `the consent rule said once: ${out}`);
      assert.equal(consent[0]!.requireConsent, false);
      assert.match(consent[0]!.msg, /recorded opt-out are refused, others are messaged/);
      // The channels say themselves which run dry; the same config opened here gives the same list.
      const probe = await Fusion.open({ store: 'sqlite::memory:', config: { channels: { sms: goodConfig.channels.sms, webhook: { signingSecret: SECRET } } } });
      const expectDry = probe.channels.dryRun;
      const channelQueues = probe.channels.tasks.map((task) => probe.registry.get(task)!.options.queue ?? 'default');
      await probe.close();
      assert.ok(expectDry.length > 0);
      assert.equal(dry[0]!.msg, `channels in dry-run (no provider configured): ${expectDry.join(', ')}`);
      assert.deepEqual(dry[0]!.channels, expectDry);
      const served = lines.find((l) => l.msg === 'worker running')!.queues!;
      for (const q of ['default', 'callbacks', ...channelQueues]) assert.ok(served.includes(q), `serves ${q}: ${served}`);
      p.child.kill('SIGTERM');
      assert.equal(await p.exit, 0);
      assert.ok(!p.output().includes(SECRET), 'the secret is never logged');
    } finally {
      p.child.kill('SIGKILL');
      t.remove();
    }
  });
});
