// AWS SNS: SMS through Publish with a PhoneNumber, using the official SDK (request signing, the Query
// protocol, its error shapes). The SDK sends through our own request handler, so the request passes
// the outgoing guard like every other provider's; the SDK's own retries are off (the job's retry and
// the route's failover decide). OTPs are Transactional; a sender id and India's DLT entity and template
// ids go as the documented AWS.SNS.SMS.* / AWS.MM.SMS.* message attributes.
//
// Errors: Throttling (and the other throttling codes), InternalError, KMS faults and any 5xx or 429
// are retryable, honouring Retry-After when sent; InvalidParameter, AuthorizationError, OptedOut...
// (the caller's or the account's mistake) are not. The error's code is SNS's own (e.g. `Throttling`).
import { PublishCommand, SNSClient, type MessageAttributeValue } from '@aws-sdk/client-sns';
import { ProviderError, type Provider, type ProviderFactory } from '../../provider.js';
import { awsClientPerDispatcher, awsFailure } from '../../http/aws.js';
import type { SmsMessage } from '../message.js';
import { schema, scrubError, Settings } from './common.js';

const SECRETS = ['secretAccessKey', 'sessionToken'];

const RETRYABLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'KMSThrottling',
]);


const classify = (err: unknown, s: Settings, now: number): unknown => awsFailure(err, s.label, RETRYABLE_CODES, now);

function attribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

export const sns: ProviderFactory<SmsMessage> = {
  type: 'sns',
  channel: 'sms',
  configSchema: schema(
    {
      region: { type: 'string' },
      accessKeyId: { type: 'string' },
      secretAccessKey: { type: 'string' },
      sessionToken: { type: 'string' },
      senderId: { type: 'string', description: 'Default sender id (AWS.SNS.SMS.SenderID), where the country supports one.' },
      smsType: { enum: ['Transactional', 'Promotional'], description: 'SMS type of messages that are not OTPs (default: the account default). OTPs are always Transactional.' },
      entityId: { type: 'string', description: "India DLT principal entity id (AWS.MM.SMS.EntityId)." },
      originationNumber: { type: 'string', description: 'Origination number (AWS.MM.SMS.OriginationNumber).' },
    },
    ['region', 'accessKeyId', 'secretAccessKey'],
  ),
  secrets: SECRETS,
  create(name, config): Provider<SmsMessage> {
    // The SDK finds the regional endpoint itself; baseUrl only overrides it (tests, VPC endpoints).
    const s = new Settings('sns', name, config, { baseUrl: '', secrets: SECRETS });
    const region = s.str('region');
    const credentials = { accessKeyId: s.str('accessKeyId'), secretAccessKey: s.str('secretAccessKey'), sessionToken: s.opt('sessionToken') };
    const smsType = s.opt('smsType');
    const entityId = s.opt('entityId');
    const origination = s.opt('originationNumber');
    const clientFor = awsClientPerDispatcher((c) => new SNSClient(c), { region, credentials, endpoint: s.baseUrl, timeoutMs: s.timeoutMs, label: s.label });
    return {
      name,
      type: 'sns',
      async send(m, ctx) {
        const attrs: Record<string, MessageAttributeValue> = {};
        const type = m.otp ? 'Transactional' : smsType;
        if (type) attrs['AWS.SNS.SMS.SMSType'] = attribute(type);
        const sender = s.sender(m, 'senderId');
        if (sender) attrs['AWS.SNS.SMS.SenderID'] = attribute(sender);
        if (entityId) attrs['AWS.MM.SMS.EntityId'] = attribute(entityId);
        if (m.templateId) attrs['AWS.MM.SMS.TemplateId'] = attribute(m.templateId);
        if (origination) attrs['AWS.MM.SMS.OriginationNumber'] = attribute(origination);
        try {
          const out = await clientFor(ctx).send(new PublishCommand({ PhoneNumber: m.to, Message: m.text, MessageAttributes: attrs }), { abortSignal: ctx.signal });
          if (!out.MessageId) throw new ProviderError(`${s.label}: the answer carries no MessageId (bad_answer)`, { code: 'bad_answer', retryable: false });
          return { messageId: out.MessageId, status: 'sent', raw: { MessageId: out.MessageId, requestId: out.$metadata.requestId } };
        } catch (err) {
          throw scrubError(classify(err, s, ctx.now()), s.secretValues);
        }
      },
    };
  },
};
