// The email channel's part of fusion.config.json (`channels.email`): the delivery pipeline's fields
// (providers, routes, failover) plus the channel's own. Routes are keyed by the first `to`
// recipient's domain ("example.com") or "default".
import type { ChannelConfig } from '../config-types.js';
import type { AttachmentLimits } from './attachments.js';

export interface EmailChannelConfig extends ChannelConfig {
  /** Addresses never sent to, besides the original's (lifecare1@gmail.com, na@na.com). */
  blacklist?: string[];
  /** Keep the original's two blacklisted addresses (default true). */
  blacklistDefaults?: boolean;
  suppression?: {
    /** Check and feed the suppression list (default true; needs a store with shared state). */
    enabled?: boolean;
    /** How long an address stays suppressed, in days (default 365). */
    ttlDays?: number;
  };
  attachments?: Partial<AttachmentLimits>;
  /** SNS notifications (bounces, complaints, deliveries) at POST /v1/providers/email/<name>/reports. */
  notifications?: {
    /** Regular expression SigningCertURL and SubscribeURL must match (default: https://sns.<region>.amazonaws.com/). */
    urlPattern?: string;
    /** TopicArns accepted (recommended in production); absent: any. */
    topics?: string[];
  };
}

/** JSON Schema of the fields above, for the config loader. */
export const EMAIL_CHANNEL_SCHEMA = {
  blacklist: { type: 'array', items: { type: 'string' } },
  blacklistDefaults: { type: 'boolean' },
  suppression: {
    type: 'object', additionalProperties: false,
    properties: { enabled: { type: 'boolean' }, ttlDays: { type: 'number', exclusiveMinimum: 0 } },
  },
  attachments: {
    type: 'object', additionalProperties: false,
    properties: {
      maxFileBytes: { type: 'integer', minimum: 1 },
      maxTotalBytes: { type: 'integer', minimum: 1 },
      timeoutMs: { type: 'integer', minimum: 1 },
    },
  },
  notifications: {
    type: 'object', additionalProperties: false,
    properties: { urlPattern: { type: 'string' }, topics: { type: 'array', items: { type: 'string' } } },
  },
} as const;
