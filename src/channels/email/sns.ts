// Amazon SNS HTTP(S) notifications, as SES sends its bounce, complaint and delivery events: the
// message's signature is checked before anything in it is believed.
//  - SignatureVersion 1 is RSA with SHA1, 2 RSA with SHA256, over the canonical string: the fields
//    (Message, MessageId, Subject if present, Timestamp, TopicArn, Type for notifications; Message,
//    MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type for subscription messages), each as
//    "Name\nValue\n".
//  - The certificate comes from SigningCertURL, which must match the allowed pattern (production: an
//    https URL on sns.<region>.amazonaws.com; tests serve theirs from loopback), fetched through the
//    outgoing guard and cached per URL.
//  - An optional TopicArn allowlist: a valid signature proves the message came from SNS, not that it
//    came from *your* topic (anyone can point their own topic at this endpoint).
//  - SubscriptionConfirmation: SubscribeURL (same pattern) is fetched through the guard to confirm.
import { createVerify, X509Certificate } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { ProviderError } from '../provider.js';

/** Production: certificates and subscribe URLs are on the SNS regional endpoints, over https. */
export const DEFAULT_SNS_URL_PATTERN = '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/';

export interface SnsMessage {
  Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation' | string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  SubscribeURL?: string;
  Token?: string;
}

export interface SnsOptions {
  dispatcher: Dispatcher;
  /** Regular expression a SigningCertURL and a SubscribeURL must match. */
  urlPattern?: string;
  /** Accepted TopicArns; absent or empty: any topic. */
  topics?: string[];
  timeoutMs?: number;
}

const badSignature = (why: string) => new ProviderError(`SNS message refused: ${why}`, { code: 'bad_signature', retryable: false });

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const SUBSCRIPTION_FIELDS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

/** The string SNS signs for a message. */
export function canonicalString(m: Record<string, unknown>): string {
  const fields = m.Type === 'Notification' ? NOTIFICATION_FIELDS : SUBSCRIPTION_FIELDS;
  let out = '';
  for (const f of fields) {
    const v = m[f];
    if (v === undefined || v === null) continue;
    out += `${f}\n${String(v)}\n`;
  }
  return out;
}

/**
 * Certificates kept, by URL. SNS signs with one per region at a time, but the URL is the sender's to
 * choose within the pattern (any path or query on any region's host) and the reports route takes no
 * key: each new one would stay for good. The least recently used goes first.
 */
const CERTS_KEPT = 100;

export class SnsVerifier {
  private readonly pattern: RegExp;
  private readonly certs = new Map<string, Promise<string>>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: SnsOptions) {
    this.pattern = new RegExp(opts.urlPattern ?? DEFAULT_SNS_URL_PATTERN);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Parse a request body as an SNS message and verify it; throws ProviderError `bad_signature`. */
  async verify(body: unknown): Promise<SnsMessage> {
    let m: unknown = body;
    if (typeof body === 'string') {
      try {
        m = JSON.parse(body);
      } catch {
        throw badSignature('the body is not an SNS message (not JSON)');
      }
    }
    if (!m || typeof m !== 'object') throw badSignature('the body is not an SNS message');
    const msg = m as Record<string, unknown>;
    for (const f of ['Type', 'MessageId', 'TopicArn', 'Timestamp', 'Signature', 'SigningCertURL', 'SignatureVersion']) {
      if (typeof msg[f] !== 'string') throw badSignature(`field ${f} is missing`);
    }
    const version = msg.SignatureVersion as string;
    const algorithm = version === '1' ? 'RSA-SHA1' : version === '2' ? 'RSA-SHA256' : null;
    if (!algorithm) throw badSignature(`SignatureVersion ${version} is not supported`);
    const certUrl = msg.SigningCertURL as string;
    if (!this.pattern.test(certUrl)) throw badSignature(`SigningCertURL ${certUrl} is not an allowed SNS certificate URL`);
    const topics = this.opts.topics ?? [];
    if (topics.length > 0 && !topics.includes(msg.TopicArn as string)) throw badSignature(`topic ${String(msg.TopicArn)} is not one this endpoint accepts`);
    const pem = await this.certificate(certUrl);
    const ok = createVerify(algorithm).update(canonicalString(msg), 'utf8').verify(pem, msg.Signature as string, 'base64');
    if (!ok) throw badSignature('the signature does not verify');
    return msg as unknown as SnsMessage;
  }

  private certificate(url: string): Promise<string> {
    const kept = this.certs.get(url);
    if (kept) {
      this.certs.delete(url);
      this.certs.set(url, kept);
      return kept;
    }
    const fetched = this.fetchCertificate(url);
    if (this.certs.size >= CERTS_KEPT) this.certs.delete(this.certs.keys().next().value!);
    this.certs.set(url, fetched);
    // A failed fetch is not remembered: the next message tries again.
    fetched.catch(() => this.certs.get(url) === fetched && this.certs.delete(url));
    return fetched;
  }

  private async fetchCertificate(url: string): Promise<string> {
    let text: string;
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.opts.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
    } catch (err) {
      throw new ProviderError(`SNS signing certificate ${url} could not be fetched: ${(err as Error).message}`, { code: 'certificate_unavailable', retryable: true });
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(text);
    } catch {
      throw badSignature(`${url} does not hold an X.509 certificate`);
    }
    const now = Date.now();
    if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) throw badSignature(`the certificate at ${url} is not valid now`);
    return cert.toString();
  }

  /** Confirm a subscription: GET its SubscribeURL (pattern-checked, through the guard). */
  async confirm(m: SnsMessage): Promise<void> {
    const url = m.SubscribeURL;
    if (!url || !this.pattern.test(url)) throw badSignature(`SubscribeURL ${url ?? '(none)'} is not an allowed SNS URL`);
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.opts.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
    } catch (err) {
      throw new ProviderError(`SNS subscription to ${m.TopicArn} could not be confirmed: ${(err as Error).message}`, { code: 'confirm_failed', retryable: true });
    }
  }
}
