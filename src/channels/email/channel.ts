// The email channel: task `email` on queue `email`. A payload (the original worker's form or the
// native one) is checked at enqueue; at send, invalid, blacklisted and suppressed recipients are
// dropped (listed in the job's result; none left: a non-retryable failure), the text part is made
// from the HTML when missing, attachments are downloaded through the guard within their limits, and
// the mail goes through the shared delivery pipeline (routes by recipient domain or "default",
// failover, demotion, rate limits). With no provider configured it runs dry.
//
// Recipients a provider refuses while it takes the mail for the others (SMTP's RCPT TO): a permanent
// refusal (5xx) is dropped like a suppressed address; a temporary one (4xx) fails the attempt
// retryably, and the recipients who took the mail are kept in the job's progress
// (`progress.email`), so the next attempt sends to the others only (its envelope), on the same
// provider.
//
// Every configured provider also takes SNS notifications (SES bounces, complaints, deliveries) at
// POST /v1/providers/email/<name>/reports: signature verified, subscriptions confirmed, permanent
// bounces and complaints added to the suppression list, delivery status updated.
import { FusionError, NonRetryableError } from '../../core/errors.js';
import type { TaskContext } from '../../core/registry.js';
import type { ChannelDeps, ChannelSetup } from '../channel.js';
import { DeliveryError, DeliveryPipeline } from '../delivery.js';
import { announce } from '../payload-callback.js';
import { dryRunProvider } from '../dry-run.js';
import type { DeliveryReport, InboundRequest, Provider, ProviderFactory } from '../provider.js';
import { CHANNEL_QUEUES } from '../queues.js';
import { addressKey, Blacklist, isValidAddress } from './address.js';
import { deleteSources, fetchAttachments } from './attachments.js';
import type { EmailChannelConfig } from './config.js';
import { domainOf, type EmailMessage, type OutgoingEmail } from './message.js';
import { textFromHtml } from './mime.js';
import { parseEmailPayload, type ParsedEmail } from './payload.js';
import { EMAIL_PROVIDERS } from './providers/index.js';
import { readSesEvent } from './ses-events.js';
import { SnsVerifier } from './sns.js';
import { DEFAULT_SUPPRESSION_TTL_MS, SuppressionList } from './suppression.js';

export const EMAIL_TASK = 'email';

export interface DroppedRecipient {
  address: string;
  field: 'to' | 'cc' | 'bcc';
  /** `refused`: by the provider for good (a 5xx at RCPT TO) while the others took the mail. */
  reason: 'invalid' | 'duplicate' | 'blacklisted' | 'suppressed' | 'refused';
  /** For suppressed ones: why and since when; for refused ones, the provider's answer. */
  detail?: string;
}

/** What an attempt leaves the next when some recipients refused the mail for now. */
interface EmailProgress {
  email?: {
    /** Recipients who have the mail. */
    delivered: string[];
    /** Recipients refused for good. */
    refused: DroppedRecipient[];
    /** Each send so far: its provider, message id, and how many recipients took it. */
    sends: { provider: string; messageId: string; recipients: number }[];
  };
}

/** An address for logs: first letter and domain (a***@example.com). */
export function maskAddress(a: string): string {
  const at = a.lastIndexOf('@');
  return at <= 0 ? '***' : `${a[0]}***${a.slice(at)}`;
}

export function emailChannel(deps: ChannelDeps): ChannelSetup {
  const config = (deps.config.channels?.email ?? {}) as EmailChannelConfig;
  const factories = [...EMAIL_PROVIDERS, ...((deps.factories ?? []) as ProviderFactory<OutgoingEmail>[]).filter((f) => f.channel === 'email')];
  const pipeline = new DeliveryPipeline<OutgoingEmail>({
    channel: 'email',
    config,
    factories,
    deps,
    dryRun: dryRunProvider<OutgoingEmail>((m) => {
      deps.logger.info({
        channel: 'email', provider: 'dry-run', to: m.to.map(maskAddress), cc: m.cc.length, bcc: m.bcc.length,
        subjectLength: m.subject.length, attachments: m.attachments.map((a) => ({ filename: a.filename, bytes: a.content.length })),
      }, 'dry-run: email not sent (no provider configured)');
    }),
  });
  const blacklist = new Blacklist(config.blacklist ?? [], config.blacklistDefaults !== false);
  const ttlMs = config.suppression?.ttlDays ? config.suppression.ttlDays * 24 * 3600_000 : DEFAULT_SUPPRESSION_TTL_MS;
  const suppression = new SuppressionList(config.suppression?.enabled === false ? undefined : deps.store.shared, ttlMs);
  const sns = new SnsVerifier({ dispatcher: deps.dispatcher, urlPattern: config.notifications?.urlPattern, topics: config.notifications?.topics });

  const validate = (payload: unknown) => {
    parseEmailPayload(payload);
  };

  /** The recipients a mail may go to, and those dropped with why. */
  const screen = async (m: EmailMessage, now: number) => {
    const dropped: DroppedRecipient[] = [];
    const seen = new Set<string>();
    const lists = { to: [] as string[], cc: [] as string[], bcc: [] as string[] };
    for (const field of ['to', 'cc', 'bcc'] as const) {
      for (const a of m[field]) {
        if (!isValidAddress(a)) dropped.push({ address: a, field, reason: 'invalid' });
        else if (seen.has(addressKey(a))) dropped.push({ address: a, field, reason: 'duplicate' });
        else if (blacklist.has(a)) dropped.push({ address: a, field, reason: 'blacklisted' });
        else {
          seen.add(addressKey(a));
          lists[field].push(a);
        }
      }
    }
    const suppressed = await suppression.check([...lists.to, ...lists.cc, ...lists.bcc], now);
    if (suppressed.size > 0) {
      for (const field of ['to', 'cc', 'bcc'] as const) {
        lists[field] = lists[field].filter((a) => {
          const s = suppressed.get(a);
          if (!s) return true;
          dropped.push({ address: a, field, reason: 'suppressed', detail: `${s.reason}${s.detail ? ` (${s.detail})` : ''} since ${new Date(s.at).toISOString()}` });
          return false;
        });
      }
    }
    return { lists, dropped };
  };

  const handler = async (payload: unknown, ctx: TaskContext) => {
    let parsed: ParsedEmail;
    try {
      parsed = parseEmailPayload(payload);
    } catch (e) {
      if (e instanceof FusionError) throw new NonRetryableError(`invalid email payload: ${e.message}${e.details.field ? ` (field ${String(e.details.field)})` : ''}`);
      throw e;
    }
    const m = parsed.message;
    const earlier = (ctx.job.progress as EmailProgress | null)?.email;
    const { lists, dropped } = await screen(m, deps.clock.now());
    if (lists.to.length + lists.cc.length + lists.bcc.length === 0) {
      const why = dropped.map((d) => `${d.address}: ${d.reason}`).join('; ');
      throw new NonRetryableError(`no recipient left to send to (${why})`);
    }
    // No To left is fine: moving a Cc or Bcc recipient up would show a blind one to the others. An
    // API that needs a To (SendGrid) finds one in its adapter.
    const mail: OutgoingEmail = {
      ...lists,
      replyTo: m.replyTo,
      subject: m.subject,
      text: m.text ?? (m.html ? textFromHtml(m.html) : ''),
      attachments: [],
      headers: m.headers,
      jobId: ctx.job.id,
    };
    if (m.from) mail.from = m.from;
    if (m.html) mail.html = m.html;
    const all = [...lists.to, ...lists.cc, ...lists.bcc];
    if (earlier) {
      const done = new Set([...earlier.delivered, ...earlier.refused.map((d) => d.address)].map(addressKey));
      mail.envelope = all.filter((a) => !done.has(addressKey(a)));
    }
    // The attachments are downloaded once the send slot is taken: a mail put off by its provider's
    // send rate (snoozed) fetches them when it comes back, not also before.
    const attach = async (out: OutgoingEmail) => {
      out.attachments = await fetchAttachments(m.attachments, { dispatcher: deps.dispatcher, signal: ctx.signal, limits: config.attachments });
    };
    const first = mail.to[0] ?? mail.cc[0] ?? mail.bcc[0]!;
    // A send an earlier run made that the progress does not hold: that run ended after the provider's
    // answer (its worker gone, its outcome or progress lost). It is this attempt's send, the
    // recipients it refused with it, rather than a mail sent again to those who took it.
    const recorded = await pipeline.earlierSend(ctx);
    const unkept = recorded && !earlier?.sends.some((s) => s.messageId === recorded.messageId) ? recorded : null;
    // Those left for this attempt may all have been dropped since (suppressed meanwhile): nothing to send.
    const { refused = [], ...sent } = unkept ?? (mail.envelope?.length === 0
      ? { channel: 'email' as const, status: 'sent' as const, provider: earlier!.sends.at(-1)!.provider, messageId: earlier!.sends.at(-1)!.messageId }
      : await pipeline.deliver(mail, { country: domainOf(first), requested: m.provider }, ctx, m.attachments.length > 0 ? attach : undefined));
    const fieldOf = (a: string) => (['to', 'cc', 'bcc'] as const).find((f) => lists[f].some((x) => addressKey(x) === addressKey(a))) ?? 'bcc';
    const bounced: DroppedRecipient[] = refused.filter((r) => !r.retryable).map((r) => ({ address: r.address, field: fieldOf(r.address), reason: 'refused', detail: `${r.code}: ${r.message}` }));
    const later = refused.filter((r) => r.retryable);
    if (later.length > 0) {
      const out = new Set(refused.map((r) => addressKey(r.address)));
      const took = (mail.envelope ?? all).filter((a) => !out.has(addressKey(a)));
      await ctx.progress({ email: {
        delivered: [...(earlier?.delivered ?? []), ...took],
        refused: [...(earlier?.refused ?? []), ...bounced],
        sends: [...(earlier?.sends ?? []), { provider: sent.provider, messageId: sent.messageId, recipients: took.length }],
      } } satisfies EmailProgress);
      const why = later.map((r) => `${r.address}: ${r.code} ${r.message}`).join('; ');
      throw new DeliveryError(`email: ${later.length} recipient(s) refused the mail for now (${why}); ${took.length} took it, the next attempt sends to the others only`,
        { provider: sent.provider, code: later[0]!.code, retryable: true, failover: false, deferred: later.map((r) => r.address) });
    }
    const result: Record<string, unknown> = {
      ...sent,
      recipients: { to: mail.to.length, cc: mail.cc.length, bcc: mail.bcc.length },
      dropped: [...dropped, ...(earlier?.refused ?? []), ...bounced],
      ...(earlier ? { earlierSends: earlier.sends } : {}),
      // An earlier run's send: its attachments were not fetched by this run, so none are listed.
      ...(unkept ? {} : { attachments: mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, bytes: a.content.length })) }),
    };
    if (m.deleteFilesAfterSend && m.attachments.length > 0) {
      result.deletedFiles = await deleteSources(m.attachments.map((a) => a.url), { dispatcher: deps.dispatcher });
    }
    if (m.callbackUrl) await announce(deps, ctx, { url: m.callbackUrl, format: parsed.original ? 'form' : 'json', name: 'callback_url' }, { completed: result });
    return result;
  };

  /** SNS notifications for one provider: verified, subscriptions confirmed, bounces and complaints suppressed. */
  const notifications = (name: string) => async (req: InboundRequest): Promise<DeliveryReport[]> => {
    const msg = await sns.verify(req.rawBody);
    if (msg.Type === 'SubscriptionConfirmation') {
      await sns.confirm(msg);
      deps.logger.info({ channel: 'email', provider: name, topic: msg.TopicArn }, 'SNS subscription confirmed');
      return [];
    }
    if (msg.Type !== 'Notification') return [];
    let event: unknown;
    try {
      event = JSON.parse(msg.Message);
    } catch {
      throw new Error('the SNS message holds no SES event (Message is not JSON)');
    }
    const out = readSesEvent(event);
    const now = deps.clock.now();
    for (const s of out.suppress) {
      await suppression.add({ ...s, provider: name, at: now }, now);
      deps.logger.info({ channel: 'email', provider: name, address: maskAddress(s.address), reason: s.reason, detail: s.detail ?? null }, 'email address suppressed');
    }
    return out.reports;
  };

  const providers: Record<string, Provider> = {};
  for (const [name, p] of pipeline.providers) {
    p.deliveryReportsAsync = notifications(name);
    providers[name] = p as Provider;
  }

  return {
    tasks: [{ name: EMAIL_TASK, handler, options: { queue: CHANNEL_QUEUES.email, validate } }],
    dryRun: pipeline.dryRun,
    providers,
  };
}

