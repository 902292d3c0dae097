// The provider contract: the same small shape for every channel. A provider adapter is one file that
// builds a provider's request, sends it through the outgoing-HTTP guard, reads the answer and
// classifies failures. Credentials come from config (resolved once at start), never from payloads.
import type { Dispatcher } from 'undici';

export type ChannelName = 'sms' | 'email' | 'push' | 'webhook' | 'whatsapp' | 'reminder';

/** Where a message stands with its provider. Reports move `sent` to `delivered` or `undelivered`. */
export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed';

export interface SendResult {
  /** The provider's id for the message (generated for providers that give none). */
  messageId: string;
  status: DeliveryStatus;
  /** The provider's answer as received (kept size-capped in the job's result). */
  raw?: unknown;
  /** Recipients the provider refused while it took the message for the others (SMTP's RCPT TO). */
  refused?: RefusedRecipient[];
}

export interface RefusedRecipient {
  address: string;
  /** The provider's code, e.g. `smtp_450`. */
  code: string;
  /** A temporary refusal (try again later), not a permanent one. */
  retryable: boolean;
  /** The provider's words. */
  message: string;
}

/** What a provider gets for one send: cancellation, the guarded HTTP client, the time. */
export interface ProviderContext {
  signal: AbortSignal;
  /** Every outgoing request goes through this dispatcher (SSRF guard, allowlist). */
  dispatcher: Dispatcher;
  now(): number;
  jobId: string;
  attempt: number;
}

/**
 * A provider's refusal or fault, classified. `retryable` decides whether the job tries again (on the
 * next provider of its route); `retryAfterMs` carries a provider's Retry-After.
 */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly retryable: boolean;
  readonly code: string;
  readonly retryAfterMs?: number;
  readonly status?: number;
  readonly raw?: unknown;
  constructor(message: string, opts: { code: string; retryable: boolean; retryAfterMs?: number; status?: number; raw?: unknown }) {
    super(message);
    this.code = opts.code;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
    this.raw = opts.raw;
  }
}

/** One delivery-status update parsed from a provider's callback. */
export interface DeliveryReport {
  messageId: string;
  status: DeliveryStatus;
  /** The provider's own word for it (e.g. Twilio's `undelivered`, MSG91's `2`). */
  providerStatus?: string;
  errorCode?: string;
}

/** An incoming HTTP request, as a provider's callback parser needs it. */
export interface InboundRequest {
  method: string;
  /** The full URL the provider called (signatures often cover it). */
  url: string;
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** Parsed body: JSON or form fields. */
  body: unknown;
}

export interface Provider<M = unknown> {
  /** The name this provider has in config (e.g. `twilio-us`); used in routes, logs and results. */
  readonly name: string;
  /** The adapter it runs (e.g. `twilio`). */
  readonly type: string;
  send(message: M, ctx: ProviderContext): Promise<SendResult>;
  /**
   * Parse a delivery-status callback. Throws ProviderError (code `bad_signature`) when the request's
   * signature does not verify. Absent: the provider sends no callbacks.
   */
  deliveryReports?(req: InboundRequest): DeliveryReport[];
  /** The same for callbacks whose check needs I/O (e.g. SNS: fetching the signing certificate); preferred when present. */
  deliveryReportsAsync?(req: InboundRequest): Promise<DeliveryReport[]>;
}

/** A value from config, with `env:NAME` references already resolved. */
export type ProviderConfig = Record<string, unknown>;

/** How an adapter is made: its config schema (JSON Schema), which fields are secrets, and the factory. */
export interface ProviderFactory<M = unknown> {
  type: string;
  channel: ChannelName;
  /** JSON Schema of this adapter's config block (besides the common `type`, `countries`, `ratePerSecond`). */
  configSchema: Record<string, unknown>;
  /** Config fields holding credentials: never printed, never logged. */
  secrets: string[];
  create(name: string, config: ProviderConfig): Provider<M>;
}
