// The reminder channel: task `reminder` (queue `reminders`, high priority), fired by /remind_me's
// RRULE schedules (or enqueued directly). Its payload is the FastAPI reminder service's
// `notification_metadata`, as sent. Each occurrence delivers it to the notification service:
// config `channels.reminder: { deliver: 'webhook', url }` POSTs it as JSON with the reminder's own
// `auth_header` as the Authorization header, through the outgoing guard; `dry-run` (the default)
// completes with provider dry-run and logs what would have gone.
import { randomUUID } from 'node:crypto';
import { FusionError } from '../../core/errors.js';
import type { TaskContext } from '../../core/registry.js';
import type { ChannelDeps, ChannelSetup } from '../channel.js';
import { DRY_RUN, dryRunProvider } from '../dry-run.js';
import { httpFailure, httpSend } from '../http/answer.js';
import type { Provider, SendResult } from '../provider.js';

export const REMINDER_TASK = 'reminder';
export const REMINDER_QUEUE = 'reminders';

/** What one occurrence sends: the metadata (without its credential) and the credential for the header. */
export interface ReminderMessage {
  /** notification_metadata minus auth_header: the credential travels in the Authorization header only. */
  body: Record<string, unknown>;
  authHeader?: string;
}

/** The payload check run at enqueue (API, library, schedules): an object; auth_header, when given, a string. */
export function validateReminder(payload: unknown): void {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new FusionError('invalid_payload', 'a reminder payload must be the notification_metadata object', { field: '' });
  }
  const auth = (payload as Record<string, unknown>).auth_header;
  if (auth !== undefined && auth !== null && typeof auth !== 'string') {
    throw new FusionError('invalid_payload', 'auth_header must be a string (the notification service\'s Authorization header)', { field: 'auth_header' });
  }
  // A header value may not carry line breaks (header injection).
  if (typeof auth === 'string' && /[\r\n]/.test(auth)) {
    throw new FusionError('invalid_payload', 'auth_header must be one line', { field: 'auth_header' });
  }
}

export function reminderMessage(payload: Record<string, unknown>): ReminderMessage {
  const { auth_header, ...body } = payload;
  return { body, ...(typeof auth_header === 'string' && auth_header !== '' ? { authHeader: auth_header } : {}) };
}

/** POST the metadata as JSON to the notification service. */
export function notificationService(url: string): Provider<ReminderMessage> {
  return {
    name: 'notification-service',
    type: 'webhook',
    async send(m, ctx): Promise<SendResult> {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'fusion-reminder/1' };
      if (m.authHeader) headers.authorization = m.authHeader;
      const answer = await httpSend(url, { method: 'POST', headers, body: JSON.stringify(m.body) }, ctx, 'notification service');
      if (answer.status < 200 || answer.status >= 300) throw httpFailure(answer, 'notification service', ctx.now());
      const id = (answer.json as { id?: unknown } | undefined)?.id;
      return { messageId: typeof id === 'string' || typeof id === 'number' ? String(id) : `rem-${randomUUID()}`, status: 'sent', raw: answer.json ?? null };
    },
  };
}

export function reminderChannel(deps: ChannelDeps): ChannelSetup {
  const cfg = deps.config.channels?.reminder ?? {};
  const deliver = cfg.deliver ?? DRY_RUN;
  let provider: Provider<ReminderMessage>;
  if (deliver === 'webhook') {
    if (!cfg.url) throw new Error('channels.reminder: deliver "webhook" needs a url (the notification service)');
    deps.guard.checkUrl(cfg.url); // a bad scheme or a refused literal address is a config error, said at boot
    provider = notificationService(cfg.url);
  } else if (deliver === DRY_RUN) {
    provider = dryRunProvider<ReminderMessage>((m) =>
      deps.logger.info({ channel: 'reminder', provider: DRY_RUN, title: m.body.title, item_id: m.body.item_id, kind: m.body.kind }, 'reminder (dry-run): not delivered'));
  } else {
    throw new Error(`channels.reminder: deliver must be "webhook" or "dry-run" (got ${JSON.stringify(deliver)})`);
  }

  const handler = async (payload: Record<string, unknown>, ctx: TaskContext) => {
    const r = await provider.send(reminderMessage(payload), {
      signal: ctx.signal, dispatcher: deps.dispatcher, now: () => deps.clock.now(), jobId: ctx.job.id, attempt: ctx.attempt,
    });
    return {
      provider: provider.name, messageId: r.messageId, status: r.status,
      ...(ctx.job.scheduleId ? { scheduleId: ctx.job.scheduleId } : {}),
      ...(r.raw !== undefined ? { answer: r.raw } : {}),
    };
  };

  return {
    tasks: [{ name: REMINDER_TASK, handler, options: { queue: REMINDER_QUEUE, priority: 'high', validate: validateReminder } }],
    dryRun: deliver === DRY_RUN,
  };
}
