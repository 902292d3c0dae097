// Logs are JSON and never carry credentials or secret-looking payload fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, maskSecrets } from '../../src/logging.js';
import { tempDir } from '../helpers/tmp.js';

describe('logging', () => {
  it('redacts secrets at any of the first levels, and request auth headers', async () => {
    const t = tempDir();
    const file = join(t.dir, 'log.jsonl');
    const fd = openSync(file, 'w');
    const log = createLogger({ level: 'info', destination: fd, sync: true, sensitiveFields: ['aadhaar'] });
    log.info({ password: 'p1', payload: { to: '+91', otp: '123456', aadhaar: '9999' }, req: { headers: { authorization: 'Bearer k', 'x-api-key': 'k2' } } }, 'hello');
    closeSync(fd);
    const text = readFileSync(file, 'utf8');
    t.remove();
    const line = JSON.parse(text.trim());
    assert.equal(line.msg, 'hello');
    assert.equal(line.password, '[redacted]');
    assert.equal(line.payload.otp, '[redacted]');
    assert.equal(line.payload.aadhaar, '[redacted]');
    assert.equal(line.payload.to, '+91');
    assert.equal(line.req.headers.authorization, '[redacted]');
    assert.equal(line.req.headers['x-api-key'], '[redacted]');
    for (const secret of ['p1', '123456', '9999', 'Bearer k', 'k2']) assert.ok(!text.includes(`"${secret}"`), secret);
  });

  it('masks secret-looking fields of a payload at any depth, leaving the original alone', () => {
    const payload = { to: 'a@b.c', creds: { apiKey: 'k', list: [{ token: 't', ok: 1 }] } };
    const masked = maskSecrets(payload) as any;
    assert.equal(masked.creds.apiKey, '[redacted]');
    assert.equal(masked.creds.list[0].token, '[redacted]');
    assert.equal(masked.creds.list[0].ok, 1);
    assert.equal(payload.creds.apiKey, 'k');
  });
});
