// The shape of the channels' part of fusion.config.json (validated by config.ts's schema). Values
// written `env:NAME` are read from the environment at load; the loaded config holds the values.
import type { BackoffPolicy } from '../core/job.js';
import type { OutgoingPolicy } from './http/guard.js';
import type { EmailChannelConfig } from './email/config.js';

/** One configured provider: the adapter it runs plus that adapter's own fields (credentials, base URL, sender). */
export interface ProviderEntry {
  type: string;
  /** Calling codes this provider may send to (e.g. ["+91"]); absent: any. The original's provider mapping. */
  countries?: string[];
  /** Send rate limit shared by all workers of the store, in messages per second. */
  ratePerSecond?: number;
  /** Let a payload name this provider in `config.provider`. Default true. */
  selectable?: boolean;
  /** Let payloads carry credentials for this provider (refused otherwise). Default false. */
  allowPayloadCredentials?: boolean;
  [field: string]: unknown;
}

export interface FailoverPolicy {
  /** Retryable failures within windowMs that demote a provider (default 5). */
  threshold?: number;
  windowMs?: number;
  /** How long a demoted provider is skipped (default 5 minutes). */
  cooldownMs?: number;
}

export interface ChannelConfig {
  providers?: Record<string, ProviderEntry>;
  /** Calling code ("+91") or "default" → provider names, tried in order (failover). */
  routes?: Record<string, string[]>;
  /** Providers for OTPs, per calling code or "default"; falls back to `routes`. */
  otpRoutes?: Record<string, string[]>;
  failover?: FailoverPolicy;
}

export interface WhatsAppConfig extends ChannelConfig {
  /** false (default): only a recorded opt-out stops a message. true: no recorded opt-in, no message. */
  requireConsent?: boolean;
  /** Template language when a payload gives none (default "en"). */
  templateLanguage?: string;
}

export interface WebhookConfig {
  /** Standard Webhooks signing secret (`whsec_...`) for webhooks and callbacks. */
  signingSecret?: string;
  /** Default timeout in seconds (the original: 15). */
  timeoutSeconds?: number;
  /** The breaker per destination host of webhooks, their callbacks and job callbacks. */
  breaker?: HostBreakerConfig;
  /** How many requests a slow destination host may hold at once in one process (webhooks and job callbacks apart). */
  slowHost?: SlowHostConfig;
  /** How job callbacks and webhooks' callbacks retry (callback-retry.ts; default 20 attempts, exponential backoff, 10 stalls). */
  callbackRetry?: { maxAttempts?: number; backoff?: BackoffPolicy; maxStalls?: number };
}

/** A circuit breaker per destination host (src/channels/http/host-breaker.ts, docs/webhooks.md). */
export interface HostBreakerConfig {
  /** Timeouts or connection failures to one host within windowMs that open its breaker; 0 turns breakers off (default 5). */
  threshold?: number;
  /** Default 60,000. */
  windowMs?: number;
  /** How long an open breaker fails requests to its host before one may try it again (default 30,000). */
  cooldownMs?: number;
}

/** A slow host's share of a process's requests (src/channels/http/slow-hosts.ts, docs/webhooks.md). */
export interface SlowHostConfig {
  /** Requests in flight a slow host may hold in one process (webhooks and job callbacks each); 0 turns the limit off (default 5). */
  limit?: number;
  /** An answer awaited this long, or that took this long, makes its host slow (default 2,000). */
  afterMs?: number;
}

export interface ReminderConfig {
  /** How a reminder's notification_metadata is delivered: `webhook` to url, or `dry-run` (default). */
  deliver?: 'webhook' | 'dry-run';
  url?: string;
}

export interface ChannelsConfig {
  sms?: ChannelConfig;
  email?: EmailChannelConfig;
  push?: ChannelConfig;
  whatsapp?: WhatsAppConfig;
  webhook?: WebhookConfig;
  reminder?: ReminderConfig;
}

/** The HTTP server's part: how the world reaches it. */
export interface ServerConfig {
  /**
   * The hub's public base URL (e.g. https://hub.example), where TLS ends at a proxy in front of it:
   * signed callbacks (Twilio's) are checked against it plus the request's path, not the URL the
   * request arrived at. Absent: the URL the request arrived at.
   */
  publicUrl?: string;
}

export interface FusionConfig {
  channels?: ChannelsConfig;
  server?: ServerConfig;
  /** Outgoing-HTTP guard: trusted internal targets. */
  outgoing?: OutgoingPolicy;
  logging?: {
    level?: string;
    /** Ship logs to Elasticsearch (as the original worker did). */
    elasticsearch?: { node: string; index?: string; auth?: { username?: string; password?: string; apiKey?: string } };
  };
}
