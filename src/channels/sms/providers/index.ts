// The SMS provider catalogue: every adapter Fusion ships, by type. Adding a provider is one file
// beside this one plus its test, and one line here.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { twilio } from './twilio.js';

export const SMS_PROVIDERS: ProviderFactory<SmsMessage>[] = [twilio];
