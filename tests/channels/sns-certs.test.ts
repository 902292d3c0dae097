// SNS notifications (SES bounces and complaints) reach a route that takes no API key: the signing
// certificates their verifier keeps must stay few whatever URLs the senders name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnsVerifier } from '../../src/channels/email/sns.js';
import { OutgoingGuard } from '../../src/channels/http/guard.js';
import { fileServer, selfSigned, signSns } from './email-fixtures.js';

const KEYS = selfSigned();

test('the certificates kept stay bounded over thousands of distinct certificate URLs, and verification goes on', async () => {
  const files = await fileServer({ '/cert.pem': () => ({ headers: { 'content-type': 'application/x-pem-file' }, body: KEYS.cert }) });
  try {
    const verifier = new SnsVerifier({ dispatcher: new OutgoingGuard({ allow: ['127.0.0.1/32'] }).dispatcher(), urlPattern: `^${files.base.replace(/[.]/g, '\\.')}/` });
    const message = (n: number) => signSns({
      Type: 'Notification', MessageId: `m-${n}`, TopicArn: 'arn:aws:sns:us-east-1:123:ses-bounces', Message: '{}',
      Timestamp: new Date().toISOString(), SigningCertURL: `${files.base}/cert.pem?n=${n}`,
    }, KEYS.key, '2');
    const N = 3000;
    for (let from = 0; from < N; from += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => verifier.verify(message(from + k))));
    }
    assert.equal(files.requests.length, N, 'each distinct URL was fetched once');
    const kept = (verifier as unknown as { certs: Map<string, unknown> }).certs.size;
    assert.ok(kept <= 100, `certificates kept: ${kept}`);
    // A URL in use stays kept: verifying with it again fetches nothing.
    await verifier.verify(message(N - 1));
    assert.equal(files.requests.length, N);
  } finally {
    await files.close();
  }
});
