// A job's delivery record against its provider's reports, on a real SQLite store: the record is the
// job's latest send; a report about an earlier send of the same job (an email sent again to the
// recipients a first send deferred) must not take its place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { applyReport, deliveryOf, recordSent } from '../../src/channels/delivery-status.js';
import { tempDir } from '../helpers/tmp.js';

describe('delivery records and reports', () => {
  it("a report about a job's earlier send is applied to that send, and the job's record stays its latest", async () => {
    const t = tempDir();
    const store = new SqliteStore(join(t.dir, 'fusion.db'));
    try {
      const now = Date.now();
      await recordSent(store, { jobId: 'j1', channel: 'email', provider: 'smtp', messageId: 'first', status: 'sent' }, now);
      await recordSent(store, { jobId: 'j1', channel: 'email', provider: 'smtp', messageId: 'second', status: 'sent' }, now + 10);
      const late = await applyReport(store, 'email', 'smtp', { messageId: 'first', status: 'delivered' }, now + 20);
      assert.equal(late?.jobId, 'j1');
      assert.equal(late?.record.messageId, 'first');
      assert.equal(late?.record.status, 'delivered');
      const record = await deliveryOf(store, 'j1', now + 30);
      assert.equal(record?.messageId, 'second', "the job's latest send stays its record");
      assert.equal(record?.status, 'sent');
      // The latest send's own report still lands.
      await applyReport(store, 'email', 'smtp', { messageId: 'second', status: 'delivered' }, now + 40);
      assert.equal((await deliveryOf(store, 'j1', now + 50))?.status, 'delivered');
    } finally {
      await store.close();
      t.remove();
    }
  });
});
