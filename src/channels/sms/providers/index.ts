// The SMS provider catalogue: every adapter Fusion ships, by type. Adding a provider is one file
// beside this one plus its test, and one line here.
import type { ProviderFactory } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { clicksend } from './clicksend.js';
import { infobip } from './infobip.js';
import { msg91 } from './msg91.js';
import { msegat } from './msegat.js';
import { plivo } from './plivo.js';
import { http } from './http.js';
import { sns } from './sns.js';
import { sinch } from './sinch.js';
import { textlocal } from './textlocal.js';
import { twilio } from './twilio.js';
import { vonage } from './vonage.js';

export const SMS_PROVIDERS: ProviderFactory<SmsMessage>[] = [sns, msg91, twilio, msegat, textlocal, clicksend, vonage, plivo, infobip, sinch, http];
