// The outgoing-HTTP guard: private, loopback, link-local, metadata and reserved addresses are refused
// on the address actually dialled (literal, resolved, or reached by a redirect), unless allowlisted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { interceptors, request, type Dispatcher } from 'undici';
import { OutgoingGuard, OutgoingRefused, refusedCause } from '../../src/channels/http/guard.js';
import { waitForState, sqliteFusion } from '../helpers/engine.js';
import { receiver, type Receiver } from './webhook-server.js';

const withRedirects = (d: Dispatcher) => d.compose(interceptors.redirect({ maxRedirections: 5 }));

/** The request's outcome: the status reached, or the guard's refusal. */
async function outcome(url: string, dispatcher: Dispatcher): Promise<{ status?: number; refused?: string }> {
  try {
    const res = await request(url, { dispatcher });
    await res.body.dump();
    return { status: res.statusCode };
  } catch (err) {
    const refused = refusedCause(err);
    if (!refused) throw err;
    return { refused: refused.message };
  }
}

describe('OutgoingGuard: addresses', () => {
  const guard = new OutgoingGuard();

  it('takes its connect timeout from the policy (outgoing.connectTimeoutMs), 10 s by default', () => {
    assert.equal(guard.connectTimeoutMs, 10_000);
    assert.equal(new OutgoingGuard({ connectTimeoutMs: 1234 }).connectTimeoutMs, 1234);
  });

  it('refuses loopback, private, link-local, metadata, CGNAT, unique-local and mapped addresses', () => {
    for (const a of [
      '127.0.0.1', '127.255.0.9', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.0.1', '192.168.255.1',
      '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.254', '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '::1', '::', 'fd00::1', 'fd00:ec2::254', 'fc00::1', 'fe80::1', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::7f00:1',
      '::7f00:1', // IPv4-compatible (deprecated) form of 127.0.0.1
      // IPv6 forms that carry an IPv4 address: 6to4, local-use NAT64, Teredo, and reserved spellings.
      '2002:7f00:1::1', '64:ff9b:1::7f00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '::ffff:0:0:7f00:1', '::1:0:0:1', '::ffff:ffff:7f00:1',
    ]) {
      assert.ok(guard.refusal(a), `${a} should be refused`);
    }
  });

  it('lets public addresses through', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '100.63.255.255', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(guard.refusal(a), null, `${a} should be allowed`);
    }
  });

  it('checkUrl refuses literal private hosts in every spelling and non-http schemes, before any I/O', () => {
    for (const url of [
      'http://127.0.0.1/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://2130706433/',
      'http://0x7f.1/', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00::1]/', 'http://100.64.1.1/', 'http://10.0.0.1/',
    ]) {
      assert.throws(() => guard.checkUrl(url), (e: unknown) => e instanceof OutgoingRefused && /private, loopback/.test(e.message), url);
    }
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'data:text/plain,x']) {
      assert.throws(() => guard.checkUrl(url), (e: unknown) => e instanceof OutgoingRefused && /only http and https/.test(e.message), url);
    }
    assert.throws(() => guard.checkUrl('not a url'), OutgoingRefused);
    assert.equal(guard.checkUrl('https://example.com/hook').hostname, 'example.com');
  });

  it('allows by CIDR, by host pattern and by the original whitelist regex', () => {
    const g = new OutgoingGuard({ allow: ['10.1.0.0/16', '::1/128', 'hooks.internal', '*.corp.example'], allowPattern: '^svc-[0-9]+\\.lan$' });
    assert.equal(g.refusal('10.1.2.3'), null);
    assert.ok(g.refusal('10.2.0.1'), 'outside the allowed CIDR');
    assert.equal(g.refusal('::1'), null);
    assert.equal(g.refusal('::ffff:10.1.0.9'), null, 'a mapped address is judged by its IPv4 address');
    assert.ok(g.hostAllowed('hooks.internal'));
    assert.ok(g.hostAllowed('HOOKS.internal'));
    assert.ok(g.hostAllowed('a.b.corp.example'));
    assert.ok(!g.hostAllowed('corp.example.evil.com'));
    assert.ok(!g.hostAllowed('evilhooks.internal'));
    assert.ok(g.hostAllowed('svc-12.lan'));
    assert.ok(!g.hostAllowed('svc-12.lan.evil.com'));
    // The regex must match the whole host: unanchored, `hooks\.internal` also trusted hooks.internal.evil.example.
    const loose = new OutgoingGuard({ allowPattern: 'hooks\\.internal|svc-[0-9]+' });
    assert.ok(loose.hostAllowed('hooks.internal'));
    assert.ok(loose.hostAllowed('svc-7'));
    assert.ok(!loose.hostAllowed('hooks.internal.evil.example'));
    assert.ok(!loose.hostAllowed('evil-hooks.internal'));
    assert.ok(!loose.hostAllowed('svc-7.evil.example'));
    assert.doesNotThrow(() => g.checkUrl('http://10.1.9.9/'));
    assert.throws(() => new OutgoingGuard({ allow: ['not a host!'] }), TypeError);
  });
});

describe('OutgoingGuard: connections', () => {
  let v4: Receiver;
  let v6: Receiver;
  let target: Receiver;
  let bouncer: Receiver;
  let bouncer6: Receiver;

  before(async () => {
    v4 = await receiver();
    v6 = await receiver(undefined, '::1');
    target = await receiver((_h, res) => res.writeHead(200).end('secret'));
    bouncer = await receiver((h, res) => res.writeHead(302, { location: `${target.base}${h.url}` }).end());
    bouncer6 = await receiver((h, res) => res.writeHead(307, { location: `${target.base}${h.url}` }).end(), '::1');
  });
  after(async () => {
    for (const r of [v4, v6, target, bouncer, bouncer6]) await r.close();
  });

  it('refuses loopback by address, by IPv6 and by a name that resolves to it; the server is never reached', async () => {
    const d = new OutgoingGuard().dispatcher();
    const seen = v4.hits.length + v6.hits.length;
    for (const url of [`${v4.base}/a`, `http://localhost:${v4.port}/a`, `${v6.base}/a`, `http://[::ffff:127.0.0.1]:${v4.port}/a`, `http://[::ffff:7f00:1]:${v4.port}/a`]) {
      const o = await outcome(url, d);
      assert.match(o.refused ?? '', /refused to reach/, url);
    }
    assert.equal(v4.hits.length + v6.hits.length, seen);
    const named = await outcome(`http://localhost:${v4.port}/`, d);
    assert.match(named.refused!, /resolves to 127\.0\.0\.1/);
  });

  it('reaches an allowlisted CIDR, host pattern or whitelist regex, and nothing else', async () => {
    assert.deepEqual(await outcome(`${v4.base}/cidr`, new OutgoingGuard({ allow: ['127.0.0.1/32'] }).dispatcher()), { status: 200 });
    assert.deepEqual(await outcome(`${v6.base}/cidr6`, new OutgoingGuard({ allow: ['::1/128'] }).dispatcher()), { status: 200 });
    assert.deepEqual(await outcome(`http://localhost:${v4.port}/name`, new OutgoingGuard({ allow: ['localhost'] }).dispatcher()), { status: 200 });
    assert.deepEqual(await outcome(`http://localhost:${v4.port}/re`, new OutgoingGuard({ allowPattern: 'local.*' }).dispatcher()), { status: 200 });
    // Allowing ::1 says nothing of 127.0.0.1.
    assert.ok((await outcome(`${v4.base}/other`, new OutgoingGuard({ allow: ['::1/128'] }).dispatcher())).refused);
    assert.deepEqual(v4.hits.map((h) => h.url).sort(), ['/cidr', '/name', '/re']);
    assert.deepEqual(v6.hits.map((h) => h.url), ['/cidr6']);
  });

  it('re-checks every redirect hop: an allowed host cannot bounce a request to a refused address', async () => {
    const before = target.hits.length;
    // Allowed by host pattern, redirecting to 127.0.0.1.
    const byName = await outcome(`http://localhost:${bouncer.port}/n`, withRedirects(new OutgoingGuard({ allow: ['localhost'] }).dispatcher()));
    assert.match(byName.refused ?? '', /refused to reach 127\.0\.0\.1/);
    // Allowed by CIDR (::1 only), redirecting to 127.0.0.1.
    const byCidr = await outcome(`${bouncer6.base}/c`, withRedirects(new OutgoingGuard({ allow: ['::1/128'] }).dispatcher()));
    assert.match(byCidr.refused ?? '', /refused to reach 127\.0\.0\.1/);
    assert.equal(bouncer.hits.length, 1, 'the allowed host was reached');
    assert.equal(bouncer6.hits.length, 1);
    assert.equal(target.hits.length, before, 'the refused target never was');
    // When the redirect's target is allowed too, it is followed.
    const both = await outcome(`${bouncer6.base}/ok`, withRedirects(new OutgoingGuard({ allow: ['::1/128', '127.0.0.1/32'] }).dispatcher()));
    assert.deepEqual(both, { status: 200 });
    assert.equal(target.hits.at(-1)!.url, '/ok');
  });
});

describe('OutgoingGuard: a webhook job to a private address', () => {
  it('fails at once, not retried, with a message naming the refusal; the address is never reached', async () => {
    const server = await receiver();
    const { fusion, store, cleanup } = await sqliteFusion(undefined, {}); // no allowlist: loopback is refused
    try {
      fusion.worker({ queues: ['webhook'], concurrency: 2 });
      const literal = await fusion.enqueue('webhook', { url: `${server.base}/hook`, method: 'POST', args: { a: 1 }, isBody: 1 });
      const named = await fusion.enqueue('webhook', { url: `http://localhost:${server.port}/hook`, method: 'GET' });
      const metadata = await fusion.enqueue('webhook', { url: 'http://169.254.169.254/latest/meta-data/', method: 'GET' });
      for (const [job, why] of [[literal, /127\.0\.0\.1.*private, loopback/], [named, /localhost: it resolves to 127\.0\.0\.1/], [metadata, /169\.254\.169\.254/]] as const) {
        const done = await waitForState(store, job.id, ['failed', 'scheduled', 'completed']);
        assert.equal(done.state, 'failed', `${job.id}: ${JSON.stringify(done.error)}`);
        assert.equal(done.attempts, 1);
        assert.equal(done.error!.retryable, false);
        assert.equal(done.error!.code, 'outgoing_refused');
        assert.match(done.error!.message, why);
      }
      // A job's success callback to the same address is refused alike, never sent.
      fusion.task('work', () => null);
      const work = await fusion.enqueue('work', null, { callbacks: { onSuccess: `${server.base}/cb` } });
      fusion.worker({ queues: ['default', 'callbacks'], concurrency: 2 });
      const cb = await waitForState(store, `${work.id}:completed-callback`, ['failed', 'scheduled', 'completed']);
      assert.equal(cb.state, 'failed');
      assert.equal(cb.attempts, 1);
      assert.match(cb.error!.message, /refused to reach 127\.0\.0\.1/);
      assert.equal(server.hits.length, 0);
    } finally {
      await cleanup();
      await server.close();
    }
  });
});
