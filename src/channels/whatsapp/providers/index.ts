// The WhatsApp adapters, picked by `type` in channels.whatsapp.providers.
import type { ProviderFactory } from '../../provider.js';
import type { WhatsAppMessage } from '../message.js';
import { meta } from './meta.js';
import { twilioWhatsApp } from './twilio.js';

export const WHATSAPP_PROVIDERS: ProviderFactory<WhatsAppMessage>[] = [meta, twilioWhatsApp];
