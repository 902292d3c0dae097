// FUSION_TRUSTED_NETWORKS: keyless requests from trusted networks reach the compatibility routes
// (only) with the trusted role, logged as key `trusted-network`, unless a browser sent them for a
// page of another site. Real servers on 127.0.0.1.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import { Authenticator, checkBind, parseKeys, plainAddress, trustedFromEnv } from '../../src/api/auth.js';
import { tempDir } from '../helpers/tmp.js';
import { KEYS, KEY_SPEC } from './helpers.js';

async function serve(opts: Partial<ServerOptions>) {
  const t = tempDir('fusion-trusted-');
  const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}` });
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const app = await buildServer({ fusion, processMetrics: false, logger: { stream }, ...opts });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return {
    fusion, base, lines, post,
    async close() {
      await app.close();
      await fusion.close(100);
      t.remove();
    },
  };
}

const QUEUE_BODY = { payload: { task: 1, contact: 9876543210, countryCode: 91, message: 'hi' } };

describe('trusted networks', () => {
  test('keys configured, 127.0.0.0/8 trusted: keyless /queue/ works and is logged as trusted-network; /v1 still needs a key', async () => {
    const s = await serve({ apiKeys: parseKeys(KEY_SPEC), trustedNetworks: { cidrs: ['127.0.0.0/8'], role: 'send' } });
    try {
      const r = await s.post('/queue/', QUEUE_BODY);
      assert.equal(r.status, 200, await r.clone().text());
      const { job_id } = (await r.json()) as { job_id: string };
      assert.equal(((await s.fusion.store.getJob({ id: job_id }))!.payload as { contact: unknown }).contact, 9876543210);
      const line = s.lines.find((l) => l.route === '/queue/' && l.status === 200);
      assert.equal(line?.key, 'trusted-network');
      assert.equal((await s.post('/v1/jobs', { task: 'sms', payload: { to: '+919876543210', text: 'hi' } })).status, 401, '/v1 needs a key when keys exist');
      assert.equal((await fetch(`${s.base}/v1/queues`)).status, 401);
      assert.equal((await s.post('/v1/jobs', { task: 'sms', payload: { to: '+919876543210', text: 'hi' } }, { authorization: `Bearer ${KEYS.send}` })).status, 201);
      // The trusted role is send: an admin route answers 403, naming the role.
      const cancel = await s.post('/cancelJob/', { job_id });
      assert.equal(cancel.status, 403);
      assert.equal(((await cancel.json()) as { error: { details: { needed: string } } }).error.details.needed, 'admin');
      // A wrong key is still refused, trusted network or not.
      assert.equal((await s.post('/queue/', QUEUE_BODY, { authorization: 'Bearer wrong-key-0123456789abcdef' })).status, 401);
      // The original worker's retry post is an enqueue: send is enough.
      assert.equal((await s.post('/retryTask/', [QUEUE_BODY])).status, 200);
    } finally {
      await s.close();
    }
  });

  test('FUSION_TRUSTED_ROLE admin lets trusted clients cancel', async () => {
    const s = await serve({ apiKeys: parseKeys(KEY_SPEC), trustedNetworks: trustedFromEnv({ FUSION_TRUSTED_NETWORKS: '10.0.0.0/8, 127.0.0.1', FUSION_TRUSTED_ROLE: 'admin' }) });
    try {
      const { job_id } = (await (await s.post('/schedule/', { ...QUEUE_BODY, delay: 600 })).json()) as { job_id: string };
      const c = await s.post('/cancelJob/', { job_id });
      assert.equal(c.status, 200, await c.clone().text());
      assert.equal((await s.fusion.store.getJob({ id: job_id }))!.state, 'cancelled');
    } finally {
      await s.close();
    }
  });

  test('not trusted: keyless /queue/ is 401', async () => {
    const s = await serve({ apiKeys: parseKeys(KEY_SPEC), trustedNetworks: { cidrs: ['10.0.0.0/8', 'fd00::/8'], role: 'send' } });
    try {
      const r = await s.post('/queue/', QUEUE_BODY);
      assert.equal(r.status, 401);
      assert.equal((await s.fusion.store.countJobs()).sms?.queued ?? 0, 0, 'nothing was enqueued');
      assert.equal((await s.post('/queue/', QUEUE_BODY, { authorization: `Bearer ${KEYS.send}` })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('trusted networks without keys: those networks reach every route, everyone else is refused', async () => {
    const inside = await serve({ trustedNetworks: { cidrs: ['127.0.0.0/8'], role: 'admin' } });
    try {
      assert.equal((await inside.post('/queue/', QUEUE_BODY)).status, 200);
      assert.equal((await fetch(`${inside.base}/v1/queues`)).status, 200);
    } finally {
      await inside.close();
    }
    const outside = await serve({ trustedNetworks: { cidrs: ['192.168.0.0/16'], role: 'admin' } });
    try {
      const r = await outside.post('/queue/', QUEUE_BODY);
      assert.equal(r.status, 401);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, /trusted network/);
      assert.equal((await fetch(`${outside.base}/v1/queues`)).status, 401);
      assert.equal((await fetch(`${outside.base}/healthz`)).status, 200, 'public routes stay public');
    } finally {
      await outside.close();
    }
  });

  test('a page of another site, in a browser inside the trusted network, gets nothing without a key; with a key it is any client', async () => {
    const s = await serve({ apiKeys: parseKeys(KEY_SPEC), trustedNetworks: { cidrs: ['127.0.0.0/8'], role: ['send', 'read'] } });
    try {
      // What Chromium sends for <form method=post action=http://127.0.0.1:8002/queue/> on https://evil.example.
      const crossSite = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'content-type': 'application/x-www-form-urlencoded' };
      const payload = JSON.stringify({ task: 4, url: 'https://evil.example/collect', method: 'POST' });
      const form = `payload=${encodeURIComponent(payload)}&priority=2`;
      const r = await fetch(`${s.base}/queue/`, { method: 'POST', headers: crossSite, body: form });
      assert.equal(r.status, 403, await r.clone().text());
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'cross_site_request');
      assert.equal((await s.fusion.store.countJobs()).webhook?.queued ?? 0, 0, 'nothing was enqueued');
      // A page whose name was pointed at the hub: same origin with itself, so only Host tells.
      const { request } = await import('node:http');
      const port = new URL(s.base).port;
      // A Host of our choosing (fetch sets its own): what a client sends, as it sends it.
      const post = (path: string, headers: Record<string, string>, body: unknown) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
      // What a browser sends for the page's fetch('/jobInfo/') once its name points at the hub.
      const browser = { origin: `http://evil.example:${port}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' };
      const rebound = await post('/jobInfo/', { host: `evil.example:${port}`, ...browser }, { job_id: 'x' });
      assert.equal(rebound.status, 403, rebound.body);
      assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, 'host_not_allowed');
      // A key is never sent by a browser on its own: a request carrying one is served wherever it comes from.
      const keyed = await fetch(`${s.base}/queue/`, { method: 'POST', headers: { ...crossSite, authorization: `Bearer ${KEYS.send}` }, body: form });
      assert.equal(keyed.status, 200, await keyed.text());
      // Old clients (no Origin, no Sec-Fetch-*) are as before, whatever name they call the hub by.
      assert.equal((await s.post('/queue/', QUEUE_BODY)).status, 200);
      const byName = await post('/queue/', { host: `fusion:${port}` }, QUEUE_BODY);
      assert.equal(byName.status, 200, byName.body);
    } finally {
      await s.close();
    }
  });

  test('addresses: IPv4-mapped IPv6 is judged as IPv4; bad CIDRs and roles are refused at start', () => {
    const auth = new Authenticator([], { cidrs: ['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8'], role: 'send' });
    assert.ok(auth.isTrusted('127.0.0.1') && auth.isTrusted('::ffff:127.0.0.1') && auth.isTrusted('::ffff:a01:203') && auth.isTrusted('fd00::5'));
    assert.ok(!auth.isTrusted('10.2.0.1') && !auth.isTrusted('::1') && !auth.isTrusted(undefined) && !auth.isTrusted('::ffff:10.2.0.1'));
    assert.equal(plainAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.throws(() => trustedFromEnv({ FUSION_TRUSTED_NETWORKS: '10.0.0.0/33' }), /not a CIDR/);
    assert.throws(() => trustedFromEnv({ FUSION_TRUSTED_NETWORKS: 'intranet' }), /not a CIDR/);
    assert.throws(() => trustedFromEnv({ FUSION_TRUSTED_NETWORKS: '10.0.0.0/8', FUSION_TRUSTED_ROLE: 'root' }), /unknown role/);
    assert.equal(trustedFromEnv({ FUSION_TRUSTED_NETWORKS: ' ' }), undefined);
    assert.deepEqual(trustedFromEnv({ FUSION_TRUSTED_NETWORKS: '10.0.0.0/8' }), { cidrs: ['10.0.0.0/8'], role: 'send' });
    assert.deepEqual(trustedFromEnv({ FUSION_TRUSTED_NETWORKS: '10.0.0.0/8', FUSION_TRUSTED_ROLE: 'send+read' })?.role, ['send', 'read']);
  });

  test('checkBind: a public bind needs keys or trusted networks', () => {
    assert.throws(() => checkBind('0.0.0.0', 0, 0), /refusing to listen/);
    assert.match(checkBind('0.0.0.0', 0, 1).warning ?? '', /only requests from FUSION_TRUSTED_NETWORKS/);
    assert.deepEqual(checkBind('0.0.0.0', 2, 1), {});
  });
});
