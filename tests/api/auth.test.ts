import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Authenticator, allowedHostsFromEnv, checkBind, isLoopback, keysFromEnv, loadKeysFile, parseKeys } from '../../src/api/auth.js';
import { tempDir } from '../helpers/tmp.js';
import { KEYS, startApi, json, type Api } from './helpers.js';

import { AUTH_ROUTES as ROUTES } from './routes.js';

describe('auth', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ auth: true });
  });
  after(() => api.close());

  for (const [method, url, body, role] of ROUTES) {
    test(`${method} ${url} needs ${role}`, async () => {
      const send = (as: keyof typeof KEYS | null) => api.call({ method: method as 'GET', url, ...(body !== undefined ? { payload: body as object } : {}), as });
      const none = await send(null);
      if (role === 'public') assert.ok(none.statusCode < 400, `${none.statusCode} ${none.body}`);
      else {
        assert.equal(none.statusCode, 401);
        assert.equal(json(none).error.code, 'unauthorized');
      }
      for (const as of ['send', 'read', 'admin'] as const) {
        const r = await send(as);
        const allowed = role === 'public' || as === 'admin' || as === role;
        if (allowed) assert.ok(r.statusCode !== 401 && r.statusCode !== 403, `${as}: ${r.statusCode} ${r.body}`);
        else {
          assert.equal(r.statusCode, 403, `${as}: ${r.body}`);
          assert.equal(json(r).error.details.needed, role);
        }
      }
    });
  }

  test('X-API-Key works like Bearer; a wrong key is 401', async () => {
    const ok = await api.call({ method: 'GET', url: '/v1/queues', headers: { 'x-api-key': KEYS.read }, as: null });
    assert.equal(ok.statusCode, 200);
    const wrong = await api.call({ method: 'GET', url: '/v1/queues', headers: { authorization: 'Bearer not-a-key-at-all-xxxxxx' }, as: null });
    assert.equal(wrong.statusCode, 401);
    const basic = await api.call({ method: 'GET', url: '/v1/queues', headers: { authorization: `Basic ${KEYS.admin}` }, as: null });
    assert.equal(basic.statusCode, 401);
  });

  test('the key check is each route\'s own: HEAD twins of GET routes have it, unknown URLs reach the 404, metrics name the route', async () => {
    const own = await startApi({ auth: true });
    try {
      assert.equal((await own.call({ method: 'HEAD', url: '/v1/queues', as: null })).statusCode, 401);
      assert.equal((await own.call({ method: 'HEAD', url: '/v1/queues', as: 'send' })).statusCode, 403);
      assert.equal((await own.call({ method: 'HEAD', url: '/v1/queues', as: 'read' })).statusCode, 200);
      assert.equal((await own.call({ method: 'GET', url: '/v1/no-such-route', as: null })).statusCode, 404);
      assert.equal((await own.call({ method: 'GET', url: '/v1/jobs/some-id', as: null })).statusCode, 401);
      // Requests are counted under their route pattern, refused ones too; 404s as unmatched.
      const m = (await own.call({ method: 'GET', url: '/metrics', as: 'admin' })).body;
      assert.match(m, /fusion_http_requests_total\{method="GET",route="\/v1\/jobs\/:id",status="401"\} 1\n/);
      assert.match(m, /fusion_http_requests_total\{method="HEAD",route="\/v1\/queues",status="401"\} 1\n/);
      assert.match(m, /fusion_http_requests_total\{method="HEAD",route="\/v1\/queues",status="200"\} 1\n/);
      assert.match(m, /fusion_http_requests_total\{method="GET",route="unmatched",status="404"\} 1\n/);
    } finally {
      await own.close();
    }
  });

  test('without keys every route is open (loopback only, see checkBind)', async () => {
    const open = await startApi();
    try {
      assert.equal((await open.call({ method: 'POST', url: '/v1/jobs/x/cancel', as: null })).statusCode, 404);
    } finally {
      await open.close();
    }
  });
});

// Keyless access is granted by where a request comes from, so a browser on the machine would carry
// any site's page there. These are the headers Chromium sends for a form on https://evil.example
// posting to the hub, and for a page of evil.example whose name was re-pointed at 127.0.0.1.
const CROSS_SITE_FORM = {
  origin: 'https://evil.example', referer: 'https://evil.example/', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate',
  'content-type': 'application/x-www-form-urlencoded',
};

describe('without keys: pages of other sites get nothing', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ allowedHosts: ['fusion.internal'], setup: (f) => f.task('report', async () => 'ok') });
  });
  after(() => api.close());

  const scheduled = async () => (await api.fusion.enqueue('report', { account: 'acme' }, { delay: 3_600_000 })).id;
  const stateOf = async (id: string) => (await api.fusion.store.getJob({ id }))!.state;

  test('a form posted from another site cancels nothing: 403 cross_site_request', async () => {
    const id = await scheduled();
    const { origin: _o, ...noOrigin } = CROSS_SITE_FORM;
    const { 'sec-fetch-site': _s, ...noFetchSite } = CROSS_SITE_FORM;
    // Older browsers send no Sec-Fetch-Site, a page on another port of this machine is same-site.
    for (const headers of [CROSS_SITE_FORM, noOrigin, noFetchSite, { ...noFetchSite, origin: 'null' }, { ...CROSS_SITE_FORM, origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' }]) {
      const r = await api.call({ method: 'POST', url: '/cancelJob/', payload: `job_id=${id}`, headers, as: null });
      assert.equal(r.statusCode, 403, `${JSON.stringify(headers)}: ${r.body}`);
      assert.equal(json(r).error.code, 'cross_site_request');
    }
    const v1 = await api.call({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, payload: '', as: null });
    assert.equal(v1.statusCode, 403, v1.body);
    assert.equal(await stateOf(id), 'scheduled');
  });

  test('a page whose name was pointed at the hub (Host: evil.example) reads nothing: 403 host_not_allowed', async () => {
    await scheduled();
    for (const host of ['evil.example:8002', 'evil.example', 'localhost.evil.example:8002', '127.0.0.1.nip.io:8002']) {
      const r = await api.call({ method: 'GET', url: '/v1/jobs?limit=5', headers: { host, 'sec-fetch-site': 'same-origin' }, as: null });
      assert.equal(r.statusCode, 403, `${host}: ${r.body}`);
      assert.equal(json(r).error.code, 'host_not_allowed');
      assert.ok(!r.body.includes('acme'));
    }
    // Public routes hold no data and stay public.
    assert.equal((await api.call({ method: 'GET', url: '/healthz', headers: { host: 'evil.example' }, as: null })).statusCode, 200);
  });

  test('the hub\'s own pages, and clients that are not browsers, still get in', async () => {
    const id = await scheduled();
    for (const host of ['127.0.0.1:8002', 'localhost:8002', 'LOCALHOST.', '[::1]:8002', '10.1.2.3:8002', 'fusion.internal:8002']) {
      const r = await api.call({ method: 'GET', url: '/v1/jobs?limit=1', headers: { host }, as: null });
      assert.equal(r.statusCode, 200, `${host}: ${r.body}`);
    }
    // The dashboard's own requests: same origin, whatever name or port it was opened on.
    for (const [host, origin] of [['127.0.0.1:8002', 'http://127.0.0.1:8002'], ['localhost', 'http://localhost'], ['localhost:80', 'http://localhost'], ['[::1]:8002', 'http://[::1]:8002'], ['fusion.internal', 'https://fusion.internal']]) {
      const r = await api.call({ method: 'GET', url: '/v1/me', headers: { host: host!, origin: origin!, 'sec-fetch-site': 'same-origin' }, as: null });
      assert.equal(r.statusCode, 200, `${host} ${origin}: ${r.body}`);
    }
    const c = await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id: id }, headers: { host: '127.0.0.1:8002', origin: 'http://127.0.0.1:8002', 'sec-fetch-site': 'same-origin' }, as: null });
    assert.equal(c.statusCode, 200, c.body);
    assert.equal(await stateOf(id), 'cancelled');
  });

  test('FUSION_ALLOWED_HOSTS names more hosts; a bad entry stops the start', () => {
    assert.deepEqual(allowedHostsFromEnv({ FUSION_ALLOWED_HOSTS: 'Fusion.Internal, hub.example.com.' }), ['fusion.internal', 'hub.example.com']);
    assert.deepEqual(allowedHostsFromEnv({}), []);
    assert.throws(() => allowedHostsFromEnv({ FUSION_ALLOWED_HOSTS: 'http://hub' }), /not a host name/);
    const guarded = new Authenticator([], undefined, ['hub.example.com']);
    assert.equal(guarded.check({ host: 'hub.example.com:8002' }, 'admin'), null);
    assert.throws(() => guarded.check({ host: 'other.example.com', 'sec-fetch-site': 'same-origin' }, 'admin'), /FUSION_ALLOWED_HOSTS/);
    // A client that is not a browser (no Origin, no Sec-Fetch-*) may call the hub by any name its
    // network gives it (a compose or Kubernetes service name): no page runs in it to be re-pointed.
    assert.equal(guarded.check({ host: 'fusion:8002' }, 'admin'), null);
  });
});

describe('keys and binding', () => {
  test('parseKeys reads KEY:ROLE[+ROLE] lists and refuses bad ones', () => {
    const keys = parseKeys('aaaaaaaaaaaaaaaa:admin, bbbbbbbbbbbbbbbb:send+read');
    assert.equal(keys.length, 2);
    assert.deepEqual(keys[1]!.roles, ['send', 'read']);
    assert.ok(!JSON.stringify(keys).includes('aaaaaaaaaaaaaaaa'), 'keys are kept as digests only');
    assert.throws(() => parseKeys('aaaaaaaaaaaaaaaa:root'), /unknown role/);
    assert.throws(() => parseKeys('short:admin'), /16 characters/);
    assert.throws(() => parseKeys('noroles'), /KEY:ROLE/);
  });

  test('a keys file may hold keys or their SHA-256 digests', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'keys.json');
      const digest = createHash('sha256').update('ops-key-0123456789abcdef').digest('hex');
      writeFileSync(path, JSON.stringify({ keys: [{ name: 'billing', key: 'billing-key-0123456789', roles: ['send'] }, { name: 'ops', sha256: digest, roles: ['admin'] }] }));
      const keys = loadKeysFile(path);
      const auth = new Authenticator(keys);
      assert.equal(auth.find('ops-key-0123456789abcdef')?.name, 'ops');
      assert.equal(auth.find('billing-key-0123456789')?.name, 'billing');
      assert.equal(auth.find('billing-key-0123456780'), null);
      assert.equal(keysFromEnv({ FUSION_API_KEYS: 'cccccccccccccccc:read', FUSION_API_KEYS_FILE: path }).length, 3);
      writeFileSync(path, '{"keys": [{"roles": ["send"]}]}');
      assert.throws(() => loadKeysFile(path), /give "key" or "sha256"/);
    } finally {
      t.remove();
    }
  });

  test('an Authorization header finds the key the Bearer pattern finds, on the usual form and on every odd one', () => {
    const keys = parseKeys('sender-0123456789abcdef:send,reader-0123456789abcdef:read');
    const auth = new Authenticator(keys);
    // The reading before the plain-Bearer fast path: a key exactly where this pattern finds one.
    const byPattern = (h: string) => {
      const m = /^Bearer\s+(.+)$/i.exec(h.trim());
      const key = m ? keys.find((k) => k.digest.equals(createHash('sha256').update(m[1]!.trim()).digest())) : undefined;
      return !m ? 'no credential' : !key ? 'no key' : key.roles.includes('read') ? key.name : 'sender role only';
    };
    const byAuth = (h: string) => {
      try {
        return auth.check({ authorization: h }, 'read')?.name ?? 'no key';
      } catch (e) {
        return /not valid/.test((e as Error).message) ? 'no key' : /lacks/.test((e as Error).message) ? 'sender role only' : /is required/.test((e as Error).message) ? 'no credential' : String(e);
      }
    };
    const k = 'reader-0123456789abcdef';
    const headers = [`Bearer ${k}`, `bearer ${k}`, `BEARER ${k}`, `Bearer  ${k}`, `Bearer\t${k}`, ` Bearer ${k} `, `Bearer ${k}\t`, `Bearer ${k} x`,
      `Bearer ${k}\u00a0`, `Bearer\u00a0${k}`, `Bearer ${k}\u00e9`, `Bearer ${k}\n`, `Bearer`, `Bearer `, `Bearer x`, `Bearerx ${k}`, `Basic ${k}`, k, '',
      `Bearer sender-0123456789abcdef`, `Bearer ${k.slice(0, -1)}`, `Bearer ${k}\u007f`, `Bearer ${k}~`];
    for (const h of headers) assert.equal(byAuth(h), byPattern(h), JSON.stringify(h));
    assert.equal(byAuth(`Bearer ${k}`), 'fusion_api_keys#2');
  });

  test('a header whose key was found is known at once next time, with its roles still checked, and by no Authenticator with other keys', () => {
    const keys = parseKeys('sender-0123456789abcdef:send,reader-0123456789abcdef:read');
    const auth = new Authenticator(keys);
    const h = 'Bearer sender-0123456789abcdef';
    for (let i = 0; i < 3; i++) {
      assert.equal(auth.check({ authorization: h }, 'send')?.name, 'fusion_api_keys#1');
      assert.throws(() => auth.check({ authorization: h }, 'read'), /lacks the "read" role/);
      assert.throws(() => auth.check({ authorization: 'Bearer sender-0123456789abcdeg' }, 'send'), /not valid/);
    }
    // The key revoked (the server started again without it) or changed: refused on its first request.
    assert.throws(() => new Authenticator(keys.slice(1)).check({ authorization: h }, 'send'), /not valid/);
    assert.throws(() => new Authenticator(parseKeys('sender-0123456789abcdeX:send')).check({ authorization: h }, 'send'), /not valid/);
    // The list given is the Authenticator's as it was: a key removed from the array later is still
    // the key its digests and remembered headers were made from, not another one's.
    const list = [...keys];
    const kept = new Authenticator(list);
    assert.equal(kept.check({ authorization: 'Bearer reader-0123456789abcdef' }, 'read')?.name, 'fusion_api_keys#2');
    list.splice(0, 1);
    assert.equal(kept.check({ authorization: 'Bearer reader-0123456789abcdef' }, 'read')?.name, 'fusion_api_keys#2');
    assert.equal(kept.check({ authorization: h }, 'send')?.name, 'fusion_api_keys#1');
  });

  test('no keys: loopback only, with a warning; public binds refused', () => {
    assert.match(checkBind('127.0.0.1', 0).warning ?? '', /no API keys/);
    assert.match(checkBind('::1', 0).warning ?? '', /no API keys/);
    assert.throws(() => checkBind('0.0.0.0', 0), /refusing to listen/);
    assert.throws(() => checkBind('::', 0), /refusing to listen/);
    assert.throws(() => checkBind('10.1.2.3', 0), /refusing to listen/);
    assert.deepEqual(checkBind('0.0.0.0', 1), {});
    assert.ok(isLoopback('localhost') && isLoopback('127.8.9.1') && isLoopback('[::1]') && !isLoopback('128.0.0.1'));
  });
});
