// Credential-named fields in an SMS payload (payloadCredentials, channels/sms/payload.ts): the
// verdict per name is remembered, and names longer than any credential name skip that memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadCredentials } from '../../src/channels/sms/payload.js';

test('credential names are found at their longest and in any case, asked twice; long names are not credentials', () => {
  const payload = { to: '+919876543210', message: 'hi', client_secret: 'x', 'Client-Secret': 'y', config: { Private_Key: 'z', authkey: 'w' } };
  for (let round = 0; round < 2; round++) {
    assert.deepEqual([...payloadCredentials(payload)], ['client_secret', 'Client-Secret', 'config.Private_Key', 'config.authkey']);
  }
  const long = { [`client_secret${'x'.repeat(100_000)}`]: 1, [`x${'client_secret'}`]: 2, message: 'hi' };
  assert.deepEqual([...payloadCredentials(long)], []);
});
