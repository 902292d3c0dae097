// Where a delivered message stands with its provider, kept in the store's shared state so every
// process (the worker that sent it, the API that receives the provider's report) sees the same:
//   delivery:job:<jobId>                         → DeliveryRecord
//   delivery:msg:<channel>:<provider>:<messageId> → jobId
// Stores without SharedState keep no delivery status (the job's result still says `sent`).
import type { Store } from '../core/store.js';
import type { DeliveryReport, DeliveryStatus, RefusedRecipient } from './provider.js';
import { statsRecorder } from './provider-stats.js';

/** How long a sent message's status and its message-id index are kept: reports come within days. */
export const DELIVERY_TTL_MS = 7 * 24 * 3600_000;

export interface DeliveryRecord {
  channel: string;
  provider: string;
  messageId: string;
  status: DeliveryStatus;
  /** The provider's own word for the latest status, when a report gave one. */
  providerStatus?: string;
  errorCode?: string;
  /** When the status last changed (epoch ms). */
  at: number;
  sentAt: number;
  /** Recipients the provider refused while it took the message for the others (email's RCPT TO). */
  refused?: RefusedRecipient[];
}

const jobKey = (jobId: string) => `delivery:job:${jobId}`;
const msgKey = (channel: string, provider: string, messageId: string) => `delivery:msg:${channel}:${provider}:${messageId}`;

/** Final statuses: a late or repeated `sent`/`queued` report does not undo them. */
const FINAL: ReadonlySet<DeliveryStatus> = new Set(['delivered', 'undelivered', 'failed']);

export async function recordSent(store: Store, r: { jobId: string; channel: string; provider: string; messageId: string; status: DeliveryStatus; refused?: RefusedRecipient[] }, now: number): Promise<void> {
  const shared = store.shared;
  if (!shared) return;
  const rec: DeliveryRecord = { channel: r.channel, provider: r.provider, messageId: r.messageId, status: r.status, at: now, sentAt: now, ...(r.refused?.length ? { refused: r.refused } : {}) };
  // A report may have beaten the worker here (it is written before the job completes, but after the send).
  const prev = await shared.get<DeliveryRecord>(jobKey(r.jobId), now);
  if (prev && prev.messageId === r.messageId && FINAL.has(prev.status)) return;
  await Promise.all([
    shared.put(msgKey(r.channel, r.provider, r.messageId), r.jobId, DELIVERY_TTL_MS, now),
    shared.put(jobKey(r.jobId), rec, DELIVERY_TTL_MS, now),
  ]);
}

export async function deliveryOf(store: Store, jobId: string, now: number): Promise<DeliveryRecord | null> {
  return store.shared ? store.shared.get<DeliveryRecord>(jobKey(jobId), now) : null;
}

/** Apply one report: the job it belongs to and its record after, or null when no sent message matches. */
export async function applyReport(store: Store, channel: string, provider: string, report: DeliveryReport, now: number): Promise<{ jobId: string; record: DeliveryRecord; changed: boolean } | null> {
  const shared = store.shared;
  if (!shared) return null;
  const jobId = await shared.get<string>(msgKey(channel, provider, report.messageId), now);
  if (!jobId) return null;
  const prev = await shared.get<DeliveryRecord>(jobKey(jobId), now);
  // The job's record names its latest send (recordSent writes it before a report can find the job):
  // another message's report is about an earlier send (an email sent again to the recipients a first
  // send deferred). It is told, but does not take the record's place, which the job's run reads to
  // know what it has sent (earlierSend) and the API shows.
  const earlier = prev != null && prev.messageId !== report.messageId;
  const base: DeliveryRecord = prev && !earlier
    ? prev
    : { channel, provider, messageId: report.messageId, status: 'sent', at: now, sentAt: now };
  if (FINAL.has(base.status) && !FINAL.has(report.status)) return { jobId, record: base, changed: false };
  const record: DeliveryRecord = {
    ...base,
    status: report.status,
    at: now,
    ...(report.providerStatus !== undefined ? { providerStatus: report.providerStatus } : {}),
    ...(report.errorCode !== undefined ? { errorCode: report.errorCode } : {}),
  };
  const changed = record.status !== base.status || record.providerStatus !== base.providerStatus;
  // An earlier send keeps no record of its own, so its reports are not counted in the provider
  // statistics either: a repeated one could not be told from the first.
  if (earlier) return { jobId, record, changed };
  await shared.put(jobKey(jobId), record, DELIVERY_TTL_MS, now);
  // The provider statistics count a message's first final status once.
  if (!FINAL.has(base.status) && FINAL.has(record.status)) {
    statsRecorder(store).record(channel, provider, record.status === 'delivered' ? 'delivered' : 'undelivered', now);
  }
  return { jobId, record, changed };
}
