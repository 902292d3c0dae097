// fusion.config.json: schema errors by field path, env: refs, adapters by type, routes naming
// providers, credentials redacted; the documented example is valid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, configPath, loadConfig, redactConfig, routingTable, secretValues, validateConfig, type Catalogues,
} from '../../src/channels/config.js';
import type { ProviderFactory } from '../../src/channels/provider.js';
import { dryRunProvider } from '../../src/channels/dry-run.js';
import { tempDir } from '../helpers/tmp.js';

/** An adapter as the providers' catalogue holds them: its own config schema and secret fields. */
const twilioLike: ProviderFactory = {
  type: 'twilio',
  channel: 'sms',
  configSchema: {
    type: 'object',
    required: ['accountSid', 'authToken', 'from'],
    additionalProperties: false,
    properties: { accountSid: { type: 'string' }, authToken: { type: 'string' }, from: { type: 'string' }, baseUrl: { type: 'string' } },
  },
  secrets: ['authToken'],
  create: (name) => ({ ...dryRunProvider(), name, type: 'twilio' }),
};
const catalogues: Catalogues = { sms: [twilioLike] };

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.errors;
  }
  assert.fail('expected the config to be refused');
}

const good = () => ({
  channels: {
    sms: {
      providers: {
        'twilio-us': { type: 'twilio', countries: ['+1'], ratePerSecond: 10, accountSid: 'AC123', authToken: 'env:TW_TOKEN', from: '+15550001' },
        backup: { type: 'dry-run' },
      },
      routes: { '+1': ['twilio-us', 'backup'], default: ['backup'] },
      otpRoutes: { '+1': ['twilio-us'] },
      failover: { threshold: 3, windowMs: 60000, cooldownMs: 120000 },
    },
  },
});

describe('config: validation', () => {
  it('accepts a good config and resolves env: refs from the environment', () => {
    const { config, warnings } = validateConfig(good(), { env: { TW_TOKEN: 'tw-secret-value-1' }, catalogues });
    assert.equal(config.channels!.sms!.providers!['twilio-us']!.authToken, 'tw-secret-value-1');
    assert.deepEqual(warnings, []);
  });

  it('names the bad field of an adapter by its JSON path (the adapter schema chosen by type)', () => {
    const c = good();
    (c.channels.sms.providers['twilio-us'] as Record<string, unknown>).authToken = 42;
    delete (c.channels.sms.providers['twilio-us'] as Record<string, unknown>).from;
    const errors = errorsOf(() => validateConfig(c, { env: {}, catalogues }));
    assert.ok(errors.includes('channels.sms.providers.twilio-us.authToken: must be string'), errors.join('\n'));
    assert.ok(errors.includes('channels.sms.providers.twilio-us.from: is required'), errors.join('\n'));
  });

  it('refuses a provider type no catalogue knows, listing the known ones', () => {
    const c = good();
    (c.channels.sms.providers as Record<string, unknown>).foo = { type: 'bar' };
    const errors = errorsOf(() => validateConfig(c, { env: { TW_TOKEN: 'x' }, catalogues }));
    assert.deepEqual(errors, ['channels.sms.providers.foo.type: unknown provider type "bar" (known: dry-run, twilio)']);
  });

  it('refuses a route naming a provider that is not configured, naming the route field', () => {
    const c = good();
    c.channels.sms.routes['+1'] = ['twilio-us', 'nope'];
    const errors = errorsOf(() => validateConfig(c, { env: { TW_TOKEN: 'x' }, catalogues }));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^channels\.sms\.routes\["\+1"\]\[1\]: provider "nope" is not configured/);
  });

  it('names a missing environment variable with its field, and reports every problem at once', () => {
    const c = good() as Record<string, any>;
    c.channels.sms.extra = true;
    c.logging = { level: 'loud' };
    c.channels.sms.routes.bogus = ['backup'];
    const errors = errorsOf(() => validateConfig(c, { env: { OTHER: 'do-not-print-me' }, catalogues }));
    assert.ok(errors.includes('channels.sms.providers.twilio-us.authToken: environment variable TW_TOKEN is not set'), errors.join('\n'));
    assert.ok(errors.includes('channels.sms.extra: is not a known field'), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('logging.level: must be one of')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('channels.sms.routes.bogus: is not a valid name')), errors.join('\n'));
    assert.ok(!errors.join('\n').includes('do-not-print-me'));
  });

  it('server.publicUrl: an http(s) base URL (env: refs allowed); a bad one names the field', () => {
    const ok = validateConfig({ ...good(), server: { publicUrl: 'env:HUB_URL' } }, { env: { TW_TOKEN: 'x', HUB_URL: 'https://hub.example/fusion/' }, catalogues });
    assert.equal(ok.config.server!.publicUrl, 'https://hub.example/fusion/');
    for (const [url, why] of [['hub.example', '"hub.example" is not an absolute URL'], ['ftp://hub.example', 'must be an http or https URL'], ['https://hub.example/?a=1', 'must hold only a scheme']] as const) {
      const errors = errorsOf(() => validateConfig({ ...good(), server: { publicUrl: url } }, { env: { TW_TOKEN: 'x' }, catalogues }));
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.ok(errors[0]!.startsWith(`server.publicUrl: ${why}`), errors[0]);
    }
    assert.deepEqual(errorsOf(() => validateConfig({ ...good(), server: { publicURL: 'https://hub.example' } }, { env: { TW_TOKEN: 'x' }, catalogues })), ['server.publicURL: is not a known field']);
  });

  it('warns about a credential written in the file, without its value', () => {
    const c = good();
    c.channels.sms.providers['twilio-us'].authToken = 'plain-token-in-file';
    const { warnings } = validateConfig(c, { env: {}, catalogues });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^channels\.sms\.providers\.twilio-us\.authToken: a credential written in the file/);
    assert.ok(!warnings[0]!.includes('plain-token-in-file'));
  });
});

describe('config: files', () => {
  it('reads --config or FUSION_CONFIG, a relative path from the working directory', () => {
    assert.equal(configPath(undefined, { FUSION_CONFIG: 'conf/f.json' }, '/srv/app'), '/srv/app/conf/f.json');
    assert.equal(configPath('x.json', { FUSION_CONFIG: 'conf/f.json' }, '/srv/app'), '/srv/app/x.json');
    assert.equal(configPath(undefined, {}, '/srv/app'), null);
  });

  it('refuses a file that is not JSON or cannot be read, naming the file', () => {
    const t = tempDir();
    try {
      const f = join(t.dir, 'bad.json');
      writeFileSync(f, '{ "channels": ');
      const err = (() => { try { loadConfig(f); } catch (e) { return e; } })() as ConfigError;
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /bad\.json: invalid configuration:\n {2}not valid JSON/);
      assert.throws(() => loadConfig(join(t.dir, 'missing.json')), /missing\.json: invalid configuration:\n {2}cannot read the file \(ENOENT\)/);
      assert.deepEqual(loadConfig(null).config, {});
    } finally {
      t.remove();
    }
  });
});

describe('config: redaction', () => {
  it('masks adapter secrets and secret-named fields, keeps names, routes, flags and numbers', () => {
    const c = good() as Record<string, any>;
    c.channels.sms.providers.backup.apiKey = 'dry-key-1234567';
    c.channels.sms.providers.backup.allowPayloadCredentials = true;
    c.channels.webhook = { signingSecret: 'whsec_abcdefgh' };
    c.logging = { elasticsearch: { node: 'http://es:9200', auth: { username: 'elastic', password: 'es-pass-1234' } } };
    const { config } = validateConfig(c, { env: { TW_TOKEN: 'tw-secret-value-1' }, catalogues });
    const red = redactConfig(config, catalogues) as Record<string, any>;
    const p = red.channels.sms.providers;
    assert.equal(p['twilio-us'].authToken, '***');
    assert.equal(p['twilio-us'].accountSid, 'AC123');
    assert.equal(p['twilio-us'].ratePerSecond, 10);
    assert.equal(p.backup.apiKey, '***');
    assert.equal(p.backup.allowPayloadCredentials, true);
    assert.deepEqual(red.channels.sms.routes, c.channels.sms.routes);
    assert.equal(red.channels.webhook.signingSecret, '***');
    assert.equal(red.logging.elasticsearch.auth, '***');
    const text = JSON.stringify(red) + routingTable(config, ['webhook'], catalogues);
    for (const secret of ['tw-secret-value-1', 'dry-key-1234567', 'whsec_abcdefgh', 'es-pass-1234']) assert.ok(!text.includes(secret), secret);
    assert.deepEqual(secretValues(config, catalogues).sort(), ['dry-key-1234567', 'es-pass-1234', 'tw-secret-value-1', 'whsec_abcdefgh']);
  });

  it('prints the routing table: routes in order with countries and rates, OTP routes, failover, dry-run channels', () => {
    const { config } = validateConfig(good(), { env: { TW_TOKEN: 'tw-secret-value-1' }, catalogues });
    const table = routingTable(config, ['webhook', 'reminder'], catalogues);
    assert.match(table, /^sms:\n/);
    assert.match(table, /twilio-us {2}type twilio {2}countries \+1 {2}rate 10\/s .*authToken=\*\*\*/);
    assert.match(table, /\+1 {6}-> twilio-us \[twilio; countries \+1; rate 10\/s\] -> backup \[dry-run; countries any; rate unlimited\]/);
    assert.match(table, /otp routes:\n {4}\+1 -> twilio-us/);
    assert.match(table, /failover: demote a provider after 3 retryable failures within 60000 ms, skip it for 120000 ms/);
    assert.match(table, /email: dry-run \(no provider configured\)/);
    assert.match(table, /\nserver: no public URL, signed callbacks checked against the URL each request arrived at\n/);
    assert.match(table, /channels in dry-run: webhook, reminder\n$/);
    const behindProxy = validateConfig({ ...good(), server: { publicUrl: 'https://hub.example' } }, { env: { TW_TOKEN: 'x' }, catalogues }).config;
    assert.match(routingTable(behindProxy, [], catalogues), /\nserver: public URL https:\/\/hub\.example, signed callbacks checked against it\n/);
  });
});

describe('config: the examples in docs/configuration.md and docs/channels.md', () => {
  it('every ```json example is a valid config (env refs given dummy values)', () => {
    const blocks = ['docs/configuration.md', 'docs/channels.md'].flatMap((file) => {
      const doc = readFileSync(join(process.cwd(), file), 'utf8');
      // Config examples: the blocks that are a whole config (channels.md also shows payloads).
      return [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^\{\s*"(channels|outgoing|logging)"/.test(b));
    });
    assert.ok(blocks.length >= 2, 'the docs have json examples');
    for (const block of blocks) {
      const env: Record<string, string> = {};
      // Dummy values of the right shape: a signing secret must be whsec_<base64>.
      for (const m of block.matchAll(/"(\w+)": "env:([A-Za-z_][A-Za-z0-9_]*)"/g)) {
        env[m[2]!] = m[1] === 'signingSecret' ? `whsec_${Buffer.from(`value-of-${m[2]}`).toString('base64')}` : `value-of-${m[2]}`;
      }
      const { config } = validateConfig(JSON.parse(block), { env });
      assert.ok(config && typeof config === 'object');
    }
    const complete = JSON.parse(blocks[0]!);
    for (const key of ['channels', 'server', 'outgoing', 'logging']) assert.ok(key in complete, `the complete example shows ${key}`);
  });
});
