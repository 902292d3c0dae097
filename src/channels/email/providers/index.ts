// The email provider catalogue: every adapter Fusion ships, by type (the config loader reads their
// schemas here). Adding a provider is one file beside this one plus its test, and one line here.
import type { ProviderFactory } from '../../provider.js';
import type { OutgoingEmail } from '../message.js';
import { postmark } from './postmark.js';
import { sendgrid } from './sendgrid.js';
import { ses } from './ses.js';
import { smtp } from './smtp.js';

export const EMAIL_PROVIDERS: ProviderFactory<OutgoingEmail>[] = [ses, smtp, sendgrid, postmark];
