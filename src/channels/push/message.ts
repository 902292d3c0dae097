// What the push channel hands a provider: one platform's part of a job, for the device tokens still
// to send to; and what a provider answers per token.

export type Platform = 'android' | 'ios';

/** FCM HTTP v1 message fields for Android devices. */
export interface AndroidPart {
  tokens: string[];
  title?: string;
  body?: string;
  /** FCM data values must be strings: other values arrive JSON-encoded. */
  data?: Record<string, string>;
  collapseKey?: string;
  priority?: 'high' | 'normal';
  ttlSeconds?: number;
  /** Raw fields merged into FCM's `message.android` (e.g. `notification.channel_id`). */
  fcm?: Record<string, unknown>;
}

/** APNs request fields for iOS devices. */
export interface IosPart {
  tokens: string[];
  title?: string;
  body?: string;
  /** Custom keys beside `aps` in the notification's JSON. */
  data?: Record<string, unknown>;
  category?: string;
  badge?: number;
  sound?: string;
  /** Raw `aps` fields (the original worker's `ios.aps`), merged over the ones built from title/body. */
  aps?: Record<string, unknown>;
  /** apns-topic (default: the provider's configured topic, the app's bundle id). */
  topic?: string;
  /** apns-push-type (default `alert`, or `background` for content-available only). */
  pushType?: string;
  /** apns-priority: 10 (now) or 5 (power-friendly; required for background). */
  priority?: number;
  collapseId?: string;
  /** apns-expiration: epoch seconds after which APNs stops trying (0: once). */
  expiration?: number;
}

export type PushMessage = { platform: 'android'; part: AndroidPart } | { platform: 'ios'; part: IosPart };

/** One device token's outcome. `device` rather than `token`: views mask fields named token. */
export interface TokenResult {
  platform: Platform;
  device: string;
  status: 'sent' | 'failed' | 'invalid';
  provider?: string;
  messageId?: string;
  /** The platform's reason (FCM `UNREGISTERED`, APNs `BadDeviceToken`, ...) or our error code. */
  code?: string;
  retryable?: boolean;
  error?: string;
  attempt?: number;
  /** The platform's Retry-After for this token, when it gave one. */
  retryAfterMs?: number;
}

/** What a push provider's send() carries in `raw`: one result per token it was given. */
export interface PushSendRaw {
  results: TokenResult[];
}
