// The SMS catalogue as config loading sees it: unique types, secrets that are fields of the schema,
// and a missing credential refused at create (at start), naming the field but not any value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMS_PROVIDERS } from '../../../src/channels/sms/providers/index.js';

test('catalogue: the ten adapters and the generic one, unique, secrets declared in their schemas', () => {
  const types = SMS_PROVIDERS.map((p) => p.type);
  assert.deepEqual([...types].sort(), ['clicksend', 'http', 'infobip', 'msegat', 'msg91', 'plivo', 'sinch', 'sns', 'textlocal', 'twilio', 'vonage']);
  for (const p of SMS_PROVIDERS) {
    assert.equal(p.channel, 'sms');
    const props = (p.configSchema as { properties: Record<string, unknown> }).properties;
    assert.ok(props.baseUrl && props.timeoutMs, `${p.type} takes baseUrl and timeoutMs`);
    assert.ok(p.secrets.length > 0, `${p.type} marks its credentials`);
    for (const f of p.secrets) assert.ok(props[f], `${p.type}: secret "${f}" is a config field`);
  }
});

test('catalogue: a provider without its required credentials is refused at create', () => {
  for (const p of SMS_PROVIDERS) {
    const required = (p.configSchema as { required?: string[] }).required ?? [];
    for (const field of required) {
      assert.throws(() => p.create('x', {}), new RegExp(`"${field}" is required|"url" is required`), `${p.type} without ${field}`);
      break;
    }
  }
});
