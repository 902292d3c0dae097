// AWS SES: SESv2 SendEmail through the official SDK with the whole MIME message as raw content (built
// by nodemailer's MailComposer, so attachments and a text part travel as one message), Destination
// listing every recipient (Bcc is left out of the headers), and the configuration set the original
// used for tracking (`lh_email_tracker`; set `configurationSet` to "" for none). The SDK sends
// through our own request handler, so the request passes the outgoing guard; its own retries are off.
//
// Errors, as the original listed them: MessageRejected and MailFromDomainNotVerified are not
// retryable (nor are bad requests or a suspended account); sending paused (configuration set or
// account), throttling, limits and any 5xx are retryable (Retry-After honoured when sent).
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { ProviderError, type Provider, type ProviderFactory } from '../../provider.js';
import { awsClientPerDispatcher, awsFailure } from '../../http/aws.js';
import { scrubError } from '../../sms/providers/common.js';
import { buildMime } from '../mime.js';
import type { OutgoingEmail } from '../message.js';
import { configuredSender, schema, SENDER_PROPERTIES, sendLists, senderOf, Settings } from './common.js';
import { formatAddress } from '../message.js';

const SECRETS = ['secretAccessKey', 'sessionToken'];
export const DEFAULT_CONFIGURATION_SET = 'lh_email_tracker';

const RETRYABLE = new Set([
  'SendingPausedException',
  'ConfigurationSetSendingPausedException',
  'AccountSendingPausedException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'LimitExceededException',
  'InternalServiceErrorException',
  'InternalFailure',
  'ServiceUnavailable',
]);

const classify = (err: unknown, s: Settings, now: number): unknown => awsFailure(err, s.label, RETRYABLE, now);

/** SES message tags allow letters, digits, _ and - only. */
const tagValue = (v: string) => v.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256);

export const ses: ProviderFactory<OutgoingEmail> = {
  type: 'ses',
  channel: 'email',
  configSchema: schema({
    region: { type: 'string' },
    accessKeyId: { type: 'string' },
    secretAccessKey: { type: 'string' },
    sessionToken: { type: 'string' },
    configurationSet: { type: 'string', description: `Configuration set (default "${DEFAULT_CONFIGURATION_SET}", the original's; "" for none).` },
    ...SENDER_PROPERTIES,
  }, ['region', 'accessKeyId', 'secretAccessKey']),
  secrets: SECRETS,
  create(name, config): Provider<OutgoingEmail> {
    const s = new Settings('ses', name, config, { baseUrl: '', secrets: SECRETS });
    const region = s.str('region');
    const credentials = { accessKeyId: s.str('accessKeyId'), secretAccessKey: s.str('secretAccessKey'), sessionToken: s.opt('sessionToken') };
    const configurationSet = config.configurationSet === '' ? undefined : s.opt('configurationSet') ?? DEFAULT_CONFIGURATION_SET;
    const from = configuredSender(s);
    const clientFor = awsClientPerDispatcher((c) => new SESv2Client(c), { region, credentials, endpoint: s.baseUrl, timeoutMs: s.timeoutMs, label: s.label });
    return {
      name,
      type: 'ses',
      async send(m, ctx) {
        try {
          const sender = senderOf(m, from, s);
          const raw = await buildMime(m, sender);
          // Destination is the envelope: a retry's narrower one leaves the headers naming everyone.
          const { to, cc, bcc } = sendLists(m);
          const out = await clientFor(ctx).send(new SendEmailCommand({
            FromEmailAddress: formatAddress(sender),
            Destination: { ToAddresses: to.length ? to : undefined, CcAddresses: cc.length ? cc : undefined, BccAddresses: bcc.length ? bcc : undefined },
            ReplyToAddresses: m.replyTo.length ? m.replyTo : undefined,
            Content: { Raw: { Data: raw } },
            ConfigurationSetName: configurationSet,
            EmailTags: [{ Name: 'fusion_job_id', Value: tagValue(ctx.jobId) }],
          }), { abortSignal: ctx.signal });
          if (!out.MessageId) throw new ProviderError(`${s.label}: the answer carries no MessageId (bad_answer)`, { code: 'bad_answer', retryable: false });
          return { messageId: out.MessageId, status: 'sent', raw: { MessageId: out.MessageId, requestId: out.$metadata.requestId } };
        } catch (err) {
          throw scrubError(classify(err, s, ctx.now()), s.secretValues);
        }
      },
    };
  },
};
