// Which config fields are credentials, and the credential values a loaded config holds. Kept apart
// from config.ts (the schema and its validator) so the library's channels use it without loading ajv.
import type { ChannelName, ProviderFactory } from './provider.js';
import type { FusionConfig } from './config-types.js';
import { SMS_PROVIDERS } from './sms/providers/index.js';
import { EMAIL_PROVIDERS } from './email/providers/index.js';
import { WHATSAPP_PROVIDERS } from './whatsapp/providers/index.js';
import { fcm } from './push/fcm.js';
import { apnsFactory } from './push/apns.js';
import { OutgoingGuard } from './http/guard.js';
import { isSecretName } from '../core/secret-fields.js';

/** Channels whose config is providers + routes. */
export const PROVIDER_CHANNELS = ['sms', 'email', 'push', 'whatsapp'] as const;
export type ProviderChannel = (typeof PROVIDER_CHANNELS)[number];

/** Provider adapters by channel, for their config schemas and secret fields (APNs's guard is only used when it sends). */
export type Catalogues = Partial<Record<ChannelName, ProviderFactory<any>[]>>;
export const PROVIDER_CATALOGUES: Catalogues = { sms: SMS_PROVIDERS, email: EMAIL_PROVIDERS, push: [fcm, apnsFactory(new OutgoingGuard())], whatsapp: WHATSAPP_PROVIDERS };

/** Fields inside a credential's object that hold no secret: flags and numbers are left alone anyway; these are strings. */
export const NOT_SECRET = new Set(['type', 'node', 'index', 'username', 'url', 'baseUrl', 'from', 'senderId']);

/** Secret-looking field names, whatever the adapter declares: the one rule answers and logs use too. */
export { isSecretName };

export function factoryFor(catalogues: Catalogues, channel: string, type: string): ProviderFactory<any> | undefined {
  return catalogues[channel as ChannelName]?.find((f) => f.type === type);
}

/** Is this field a credential? The adapter's `secrets` list, or its name looks like one. */
export function secretField(factory: ProviderFactory<any> | undefined, field: string): boolean {
  return (factory?.secrets.includes(field) ?? false) || isSecretName(field);
}

/**
 * Every credential value the loaded config holds (resolved), so log lines can scrub one that a
 * provider's answer or an error message echoes back. Short values are left out: masking "1" would
 * garble every line.
 */
export function secretValues(config: FusionConfig, catalogues: Catalogues = PROVIDER_CATALOGUES): string[] {
  const out = new Set<string>();
  const collect = (v: unknown, factory?: ProviderFactory<any>, secret = false) => {
    if (typeof v === 'string') {
      if (secret && v.length >= 6) out.add(v);
      return;
    }
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) collect(x, factory, secretField(factory, k) || (secret && !NOT_SECRET.has(k)));
  };
  for (const ch of PROVIDER_CHANNELS) {
    for (const entry of Object.values(config.channels?.[ch]?.providers ?? {})) collect(entry, factoryFor(catalogues, ch, entry.type));
  }
  collect(config.channels?.webhook);
  collect(config.logging?.elasticsearch);
  return [...out];
}
