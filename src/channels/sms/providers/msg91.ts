// MSG91 (India). Two routes, both with the `authkey` header:
// - Flow API: POST {base}/api/v5/flow/ JSON { template_id | flow_id, sender, short_url, mobiles, ...flow
//   variables }. Indian SMS must follow a registered (DLT) template, so the message's text travels only
//   as a flow variable (config `textVariable`), the payload's `context` fills the others.
// - OTP API (message.otp): POST {base}/api/v5/otp?template_id=..&mobile=91XXXXXXXXXX, JSON body of the
//   template's variables; context.otp, when given, is the code MSG91 sends (else it makes one).
// Success answer { type: "success", message | request_id }; errors { type: "error", message } — a refusal,
// retryable only when the HTTP status says so (5xx, 429).
//
// Delivery reports: MSG91 posts a JSON array (or { data: [...] }, `data` possibly a JSON string in a
// form post) of { requestId, report: [{ status, number, desc }] }. It signs nothing, so a shared token in
// the callback URL's `token` query parameter (config `reportToken`) is checked when configured.
// Status mapping (MSG91 code → ours): 1 delivered → delivered; 2 failed at the operator, 9 NDNC (the
// number is on the do-not-disturb register) → undelivered; 16 rejected, 17 blocked number, 25 and 26
// rejected (DLT/template mismatch) → failed; 8 sent to operator, 3/5 pending, anything else → sent
// (no final word yet; MSG91's own code is kept in providerStatus).
import { timingSafeEqual } from 'node:crypto';
import type { DeliveryReport, DeliveryStatus, InboundRequest } from '../../provider.js';
import type { SmsMessage } from '../message.js';
import { adapter, answerError, digits, JSON_TYPE, refusal, schema, sent, text } from './common.js';

const SECRETS = ['authKey', 'reportToken'];

const REPORT_STATUS: Record<string, DeliveryStatus> = {
  '1': 'delivered',
  '2': 'undelivered',
  '9': 'undelivered',
  '16': 'failed',
  '17': 'failed',
  '25': 'failed',
  '26': 'failed',
};

/** The template (flow) id a message names: templateId, or the original's flowAuth (an id or { flow_id }). */
function templateOf(m: SmsMessage): { field: 'template_id' | 'flow_id'; id: string } | undefined {
  if (m.templateId) return { field: 'template_id', id: m.templateId };
  const f = m.flowAuth;
  if (typeof f === 'string' && f) return { field: 'flow_id', id: f };
  if (f && typeof f === 'object') {
    const o = f as Record<string, unknown>;
    for (const [key, field] of [['template_id', 'template_id'], ['templateId', 'template_id'], ['flow_id', 'flow_id'], ['flowId', 'flow_id']] as const) {
      if (typeof o[key] === 'string' && o[key]) return { field, id: o[key] as string };
    }
  }
  return undefined;
}

function sameSecret(given: string | null, want: string): boolean {
  return given !== null && given.length === want.length && timingSafeEqual(Buffer.from(given), Buffer.from(want));
}

/** The report entries of a callback body, whichever of MSG91's shapes it came in. */
function reportItems(req: InboundRequest): unknown[] {
  let body: unknown = req.body;
  if (body === undefined || body === null || body === '') {
    try {
      body = JSON.parse(req.rawBody);
    } catch {
      body = Object.fromEntries(new URLSearchParams(req.rawBody));
    }
  }
  if (body && typeof body === 'object' && !Array.isArray(body) && 'data' in body) {
    body = (body as { data: unknown }).data;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return [];
      }
    }
  }
  return Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : [];
}

export const msg91 = adapter({
  type: 'msg91',
  configSchema: schema(
    {
      authKey: { type: 'string' },
      sender: { type: 'string', description: 'Default sender id (6 letters in India).' },
      templateId: { type: 'string', description: 'Default flow template id when the message names none.' },
      otpTemplateId: { type: 'string', description: 'OTP template id for messages with otp: true.' },
      textVariable: { type: 'string', description: "Flow variable that receives the message text (e.g. \"message\"); absent: the text is not sent." },
      shortUrl: { type: 'boolean', description: 'Let MSG91 shorten URLs in the message (default false).' },
      reportToken: { type: 'string', description: 'Shared token the delivery-report URL must carry in its `token` query parameter.' },
    },
    ['authKey'],
  ),
  secrets: SECRETS,
  baseUrl: 'https://control.msg91.com',
  exchange(s) {
    const authKey = s.str('authKey');
    const textVariable = s.opt('textVariable');
    const reportToken = s.opt('reportToken');
    const headers = { authkey: authKey, 'content-type': JSON_TYPE, accept: JSON_TYPE };
    return {
      request(m) {
        const vars = { ...(m.context ?? {}) };
        if (m.otp) {
          const id = templateOf(m)?.id ?? s.opt('otpTemplateId');
          if (!id) throw refusal(s, 'missing_template', 'an OTP needs a template: set otpTemplateId in config or templateId in the payload');
          const q = new URLSearchParams({ template_id: id, mobile: digits(m) });
          const code = vars.otp;
          if (typeof code === 'string' || typeof code === 'number') q.set('otp', String(code));
          delete vars.otp;
          return { url: `${s.baseUrl}/api/v5/otp?${q}`, headers, body: JSON.stringify(vars) };
        }
        const template = templateOf(m) ?? (s.opt('templateId') ? { field: 'template_id' as const, id: s.opt('templateId')! } : undefined);
        if (!template) throw refusal(s, 'missing_template', 'a flow SMS needs a template: set templateId in config, or templateId/flowAuth in the payload');
        if (textVariable) vars[textVariable] = m.text;
        return {
          url: `${s.baseUrl}/api/v5/flow/`,
          headers,
          body: JSON.stringify({ ...vars, [template.field]: template.id, sender: s.sender(m), short_url: s.bool('shortUrl', false) ? '1' : '0', mobiles: digits(m) }),
        };
      },
      errorCode: (a) => text(a.json, 'code'),
      read(a) {
        if (text(a.json, 'type') !== 'success') {
          throw answerError(s, a, text(a.json, 'code') ?? 'msg91_error', text(a.json, 'message') ?? 'unexpected answer');
        }
        return sent(s, a, text(a.json, 'request_id') ?? text(a.json, 'message'));
      },
      deliveryReports(req) {
        if (reportToken && !sameSecret(new URL(req.url, 'http://callback.invalid').searchParams.get('token'), reportToken)) {
          throw refusal(s, 'bad_signature', 'the delivery report does not carry the configured token');
        }
        const out: DeliveryReport[] = [];
        for (const item of reportItems(req)) {
          const id = text(item, 'requestId') ?? text(item, 'request_id');
          if (!id) continue;
          const entries = Array.isArray((item as { report?: unknown }).report) ? ((item as { report: unknown[] }).report) : [item];
          for (const e of entries) {
            const code = text(e, 'status');
            if (code === undefined) continue;
            const report: DeliveryReport = { messageId: id, status: REPORT_STATUS[code] ?? 'sent', providerStatus: code };
            const desc = text(e, 'desc');
            if (desc && report.status !== 'delivered' && report.status !== 'sent') report.errorCode = desc;
            out.push(report);
          }
        }
        return out;
      },
    };
  },
});
