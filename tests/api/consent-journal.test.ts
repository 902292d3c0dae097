// The consent journal `fusion server` keeps beside the store (--consent-file): every /update_consent/
// appends a line, for good. What the process holds must not grow with the contacts recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileConsentStore } from '../../src/api/consent.js';
import { tempDir } from '../helpers/tmp.js';
import { startApi } from './helpers.js';

/** Contacts the journal holds in this process (its records map, where it keeps one). */
const held = (journal: FileConsentStore) => (journal as unknown as { records?: Map<string, unknown> }).records?.size ?? 0;

test('the journal holds no contact in memory over thousands of /update_consent/ calls, nor loads its file when opened', async () => {
  const dir = tempDir();
  const path = join(dir.dir, 'consent.jsonl');
  const journal = new FileConsentStore(path);
  const api = await startApi({ consent: journal });
  try {
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const r = await api.call({ method: 'POST', url: '/update_consent/', payload: { contact: String(9_000_000_000 + i), countryCode: 91, consent: i % 2 === 0 } });
      assert.equal(r.statusCode, 200, r.body);
    }
    assert.equal(held(journal), 0, 'contacts held by the server\'s journal');
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, N, 'one journal line per change');
    const reopened = new FileConsentStore(path);
    assert.equal(held(reopened), 0, 'contacts loaded by opening the journal');
    // It still answers from the file: the last record of a contact.
    assert.equal((await reopened.get('9000000000', '91'))?.consent, true);
    assert.equal((await reopened.get(String(9_000_000_000 + N - 1), '+91'))?.consent, false);
    await reopened.set({ contact: '9000000000', countryCode: '91', consent: false, updatedAt: 1 });
    assert.equal((await reopened.get('9000000000', '91'))?.consent, false);
    assert.equal(await reopened.get('12345', '1'), null);
    await reopened.close();
  } finally {
    await api.close();
    dir.remove();
  }
});
