// SES bounce, complaint and delivery events (as SNS delivers them, both the identity notifications'
// `notificationType` and the configuration set event publishing's `eventType`): what to suppress
// and what each says of the sent message's delivery status.
//   Bounce, Permanent  → every bounced recipient suppressed; message undelivered
//   Bounce, Transient/Undetermined → message undelivered (soft: nobody suppressed)
//   Complaint          → every complaining recipient suppressed (the mail did arrive)
//   Delivery           → delivered
//   Reject             → failed
// A mail with several recipients has one status: a bounce of one marks it undelivered.
import type { DeliveryReport } from '../provider.js';
import type { Suppression } from './suppression.js';

export interface SesEventOutcome {
  suppress: Omit<Suppression, 'at' | 'provider'>[];
  reports: DeliveryReport[];
  type: string;
}

type Obj = Record<string, any>;

const addresses = (list: unknown): string[] =>
  Array.isArray(list) ? list.map((r: Obj) => r?.emailAddress).filter((a): a is string => typeof a === 'string') : [];

export function readSesEvent(event: unknown): SesEventOutcome {
  const e = (event && typeof event === 'object' ? event : {}) as Obj;
  const type = String(e.notificationType ?? e.eventType ?? 'unknown');
  const messageId = typeof e.mail?.messageId === 'string' ? e.mail.messageId : undefined;
  const out: SesEventOutcome = { suppress: [], reports: [], type };
  const report = (r: Omit<DeliveryReport, 'messageId'>) => {
    if (messageId) out.reports.push({ messageId, ...r });
  };
  switch (type) {
    case 'Bounce': {
      const b = (e.bounce ?? {}) as Obj;
      const kind = `${b.bounceType ?? 'Undetermined'}/${b.bounceSubType ?? 'General'}`;
      if (b.bounceType === 'Permanent') {
        for (const r of (Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients : []) as Obj[]) {
          if (typeof r?.emailAddress !== 'string') continue;
          out.suppress.push({ address: r.emailAddress, reason: 'bounce', detail: [kind, r.diagnosticCode].filter(Boolean).join(': ').slice(0, 500) });
        }
      }
      report({ status: 'undelivered', providerStatus: `bounce:${kind}`, errorCode: String(b.bounceSubType ?? b.bounceType ?? 'bounce') });
      break;
    }
    case 'Complaint': {
      const c = (e.complaint ?? {}) as Obj;
      const detail = typeof c.complaintFeedbackType === 'string' ? c.complaintFeedbackType : 'complaint';
      for (const a of addresses(c.complainedRecipients)) out.suppress.push({ address: a, reason: 'complaint', detail });
      report({ status: 'delivered', providerStatus: 'complaint' });
      break;
    }
    case 'Delivery':
      report({ status: 'delivered', providerStatus: 'delivery' });
      break;
    case 'Reject':
      report({ status: 'failed', providerStatus: 'reject', errorCode: String(e.reject?.reason ?? 'reject') });
      break;
    default:
      break;
  }
  return out;
}
