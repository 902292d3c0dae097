// Standard Webhooks signing (https://www.standardwebhooks.com): every webhook and callback Fusion
// sends carries `webhook-id`, `webhook-timestamp` and `webhook-signature` when a secret is
// configured, so receivers can verify it with any Standard Webhooks library.
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret. Throws on anything else, so a typo fails at start. */
export function signingKey(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(PREFIX)) throw new TypeError('a webhook signing secret must look like whsec_<base64>');
  const b64 = secret.slice(PREFIX.length);
  const key = Buffer.from(b64, 'base64');
  // Buffer.from ignores stray characters; a secret that does not round-trip is not base64.
  if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
    throw new TypeError('a webhook signing secret must be whsec_ followed by base64');
  }
  return key;
}

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export class WebhookSigner {
  private readonly key: Buffer;
  constructor(secret: string) {
    this.key = signingKey(secret);
  }

  /** `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, timestamp in seconds. */
  signature(id: string, timestampSec: number, body: string | Buffer): string {
    const h = createHmac('sha256', this.key).update(`${id}.${timestampSec}.`);
    h.update(body);
    return `v1,${h.digest('base64')}`;
  }

  /**
   * The three headers for one request. `id` stays the same across retries of one message (receivers
   * de-duplicate on it); the timestamp is the time of this attempt (receivers refuse stale ones).
   */
  headers(id: string, body: string | Buffer, nowMs: number): SignatureHeaders {
    const ts = Math.floor(nowMs / 1000);
    return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': this.signature(id, ts, body) };
  }
}

/** The signer for the configured secret, or null when none is configured. */
export function signerFrom(secret: string | undefined): WebhookSigner | null {
  return secret ? new WebhookSigner(secret) : null;
}
