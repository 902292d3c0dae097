// Logs are JSON and never carry credentials or secret-looking payload fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readFileSync, readSync, closeSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
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

  it('keeps a bounded backlog for a stdout nobody reads (a stalled log collector), dropping lines past it', async () => {
    const t = tempDir();
    const fifo = join(t.dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    // Opened for reading too, so the open does not wait for a reader; nothing ever reads it.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const log = createLogger({ level: 'info', destination: fd });
    // The destination (sonic-boom): its _len counts the bytes it keeps until the descriptor takes them.
    const destination = (log as unknown as Record<symbol, { _len: number; end(): void; once(e: string, f: () => void): void }>)[pino.symbols.streamSym]!;
    try {
      const N = 100_000;
      for (let i = 0; i < N; i++) log.info({ job_id: `j${i}`, status: 'completed', job_result: 'y'.repeat(100) }, 'Execution Successful');
      const kept = destination._len;
      assert.ok(kept <= 16 * 1024 * 1024, `bytes of log lines kept for stdout: ${kept}`); // MAX_STDOUT_BACKLOG_BYTES
    } finally {
      // Let a reader come and take it all, then close: the destination owns the descriptor.
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const chunk = Buffer.alloc(1 << 16);
      while (destination._len > 0) {
        try {
          readSync(reader, chunk);
        } catch {
          // EAGAIN: the destination has not written more yet.
        }
        await new Promise((r) => setImmediate(r));
      }
      await new Promise<void>((r) => { destination.once('close', () => r()); destination.end(); });
      closeSync(reader);
      t.remove();
    }
  });
});
