// Which field names hold secrets: one rule for API answers, log lines and the attempt log.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretName } from '../../src/core/secret-fields.js';

describe('secret field names', () => {
  it('a credential word anywhere in the name, in any spelling', () => {
    for (const name of ['token', 'X-Auth-Token', 'refresh_token', 'Cookie', 'client_key', 'apiKey', 'APIKEY', 'x-api-key', 'webhookSecret',
      'password', 'db.passwd', 'authorization', 'auth_header', 'privateKey', 'credentials', 'signature', 'otp', 'PIN', 'certificate']) {
      assert.equal(isSecretName(name), true, name);
    }
  });
  it('not a substring: an author, a keyword, OTP routes and refused device tokens are shown', () => {
    for (const name of ['author', 'keyword', 'monkey', 'otpRoutes', 'pinned', 'invalidTokens', 'description', 'to']) {
      assert.equal(isSecretName(name), false, name);
    }
  });
});
