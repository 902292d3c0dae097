// The README's quick start runs as written and does what it says.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';

it('examples/quickstart runs: one OTP delivered, one bad number failed at once, one still scheduled', async () => {
  const t = tempDir();
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(process.cwd(), 'dist/examples/quickstart.js')], {
      env: { ...process.env, FUSION_STORE: `sqlite:${join(t.dir, 'q.db')}` },
    });
    assert.match(stdout, /^otp: completed \{"delivered":true,"attempt":1\}$/m);
    assert.match(stdout, /^bad: failed bad phone number nope$/m);
    assert.match(stdout, /^later: scheduled$/m);
  } finally {
    t.remove();
  }
});
