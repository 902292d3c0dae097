// The generic HTTP provider (`type: "http"`): a gateway described entirely in config, for the long tail
// of SMS gateways that are one HTTP call each. Config (or a preset from presets.ts, which config fields
// override) says: method, URL template, body template and its format (json | form | query), headers,
// auth (a header, a query parameter or Basic), what a success looks like (status plus an optional JSON
// path that must equal a value), where the message id and the error code are, and what is retryable.
//
// Placeholders: {{to}} (E.164), {{to_digits}} (E.164 without +), {{to_national}}, {{calling_code}},
// {{text}}, {{sender}}, {{template_id}}, {{job_id}}, {{base_url}}, the credentials {{apiKey}},
// {{apiSecret}}, {{username}}, {{password}}, {{token}}, {{accountId}}, and {{vars.NAME}} for the
// config's non-secret `vars`. Credentials belong in their own fields (never written inline in a
// template) so they are masked and scrubbed from errors.
import { ProviderError, type ProviderFactory, type ProviderConfig } from '../../provider.js';
import { capText, retryAfterMs, type HttpAnswer } from '../../http/answer.js';
import type { SmsMessage } from '../message.js';
import { answerError, basicAuth, digits, FORM, httpProvider, JSON_TYPE, type ProviderRequest, refusal, schema, sent, Settings, text } from './common.js';
import { SMS_PRESETS, type HttpSpec } from './presets.js';
import { fill, fillFields, fillJson, placeholders, type Values } from './template.js';

const CREDENTIALS = ['apiKey', 'apiSecret', 'username', 'password', 'token', 'accountId'] as const;
const SECRETS = ['apiKey', 'apiSecret', 'password', 'token'];
const MESSAGE_VALUES = ['to', 'to_digits', 'to_national', 'calling_code', 'text', 'sender', 'template_id', 'job_id', 'base_url'];
const SPEC_FIELDS = ['method', 'url', 'format', 'body', 'headers', 'auth', 'success', 'messageId', 'errorCode', 'errorMessage', 'retryableStatuses', 'retryableCodes', 'requires'] as const;

export type StatusList = (number | string)[];

/** Whether a status is in a list of statuses and classes (`"5xx"`). */
export function statusIn(status: number, list: StatusList): boolean {
  return list.some((e) => (typeof e === 'number' ? e === status : /^[1-5]xx$/i.test(e) ? Math.floor(status / 100) === Number(e[0]) : Number(e) === status));
}

const statusList = { type: 'array', items: { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^([1-5]xx|[1-5][0-9][0-9])$' }] } };
const pair = { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } }, required: ['name', 'value'] };

/** The spec a provider runs: the preset's, with config fields laid over it. */
function specOf(s: Settings, config: ProviderConfig): { spec: HttpSpec; baseUrl: string; vars: Record<string, string> } {
  const presetName = s.opt('preset');
  const preset = presetName === undefined ? undefined : SMS_PRESETS[presetName];
  if (presetName !== undefined && !preset) throw new TypeError(`${s.label}: unknown preset "${presetName}" (known: ${Object.keys(SMS_PRESETS).join(', ')})`);
  const spec: HttpSpec = { ...(preset ?? {}) } as HttpSpec;
  for (const f of SPEC_FIELDS) if (config[f] !== undefined) (spec as unknown as Record<string, unknown>)[f] = config[f];
  if (!spec.url) throw new TypeError(`${s.label}: config field "url" is required (or a preset)`);
  const vars = { ...(preset?.vars ?? {}), ...((config.vars as Record<string, string> | undefined) ?? {}) };
  return { spec, baseUrl: (s.opt('baseUrl') ?? preset?.baseUrl ?? '').replace(/\/+$/, ''), vars };
}

export const http: ProviderFactory<SmsMessage> = {
  type: 'http',
  channel: 'sms',
  configSchema: schema({
    preset: { enum: Object.keys(SMS_PRESETS), description: 'A known gateway: fills every field below; fields given here override it.' },
    method: { enum: ['GET', 'POST', 'PUT'] },
    url: { type: 'string', description: 'URL template, e.g. "{{base_url}}/v1/{{vars.sid}}/messages".' },
    format: { enum: ['json', 'form', 'query'] },
    body: { description: 'Body template: a JSON value (format json) or an object of fields (form, query).' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    auth: {
      type: 'object',
      properties: {
        header: pair,
        query: pair,
        basic: { type: 'object', properties: { username: { type: 'string' }, password: { type: 'string' } }, required: ['username', 'password'] },
      },
    },
    success: { type: 'object', properties: { status: statusList, path: { type: 'string' }, equals: { type: ['string', 'number', 'boolean', 'null'] } } },
    messageId: { type: 'string', description: 'JSON path of the message id, e.g. "data.0.id"; absent: an id is made.' },
    errorCode: { type: 'string', description: "JSON path of the provider's error code." },
    errorMessage: { type: 'string', description: "JSON path of the provider's error text." },
    retryableStatuses: { ...statusList, description: 'Statuses worth another try (default [408, 425, 429, "5xx"]).' },
    retryableCodes: { type: 'array', items: { type: 'string' }, description: 'Provider error codes worth another try.' },
    vars: { type: 'object', additionalProperties: { type: 'string' }, description: 'Non-secret values for {{vars.NAME}}.' },
    sender: { type: 'string' },
    apiKey: { type: 'string' },
    apiSecret: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    accountId: { type: 'string' },
  }),
  secrets: SECRETS,
  create(name, config) {
    const s = new Settings('http', name, config, { baseUrl: '', secrets: SECRETS });
    const { spec, baseUrl, vars } = specOf(s, config);
    const format = spec.format ?? 'json';
    const fixed: Values = { base_url: baseUrl };
    for (const c of CREDENTIALS) fixed[c] = s.opt(c);
    for (const [k, v] of Object.entries(vars)) fixed[`vars.${k}`] = v;
    for (const need of spec.requires ?? []) s.str(need);
    const known = new Set([...MESSAGE_VALUES, ...CREDENTIALS, ...Object.keys(vars).map((k) => `vars.${k}`)]);
    const unknown = [...placeholders([spec.url, spec.body, spec.headers, spec.auth])].filter((p) => !known.has(p));
    if (unknown.length) throw new TypeError(`${s.label}: unknown placeholder(s) ${unknown.map((u) => `{{${u}}}`).join(', ')}`);
    if (format !== 'json' && spec.body !== undefined && (typeof spec.body !== 'object' || spec.body === null || Array.isArray(spec.body))) {
      throw new TypeError(`${s.label}: a ${format} body must be an object of fields`);
    }
    const successStatus = spec.success?.status ?? ['2xx'];
    const retryableStatuses = spec.retryableStatuses ?? [408, 425, 429, '5xx'];
    const retryableCodes = new Set(spec.retryableCodes ?? []);

    const valuesFor = (m: SmsMessage, jobId: string): Values => ({
      ...fixed,
      to: m.to,
      to_digits: digits(m),
      to_national: m.nationalNumber,
      calling_code: m.callingCode,
      text: m.text,
      sender: s.sender(m),
      template_id: m.templateId,
      job_id: jobId,
    });
    const headerValue = (template: string, v: Values): string => {
      const out = fill(template, v);
      if (/[\r\n]/.test(out)) throw refusal(s, 'bad_header', 'a header value would contain a line break');
      return out;
    };
    const describe = (a: HttpAnswer) => (spec.errorMessage ? text(a.json, spec.errorMessage) : undefined) ?? capText(a.text, 500);

    return httpProvider(s, {
      request(m, ctx): ProviderRequest {
        const v = valuesFor(m, ctx.jobId);
        // {{base_url}} is config, taken as written; every other value is encoded as a URL component.
        const url = new URL(spec.url.replace(/^\{\{\s*base_url\s*\}\}/, () => baseUrl).replace(/\{\{[^}]*\}\}/g, (p) => fill(p, v, encodeURIComponent)));
        const headers: Record<string, string> = {};
        for (const [k, t] of Object.entries(spec.headers ?? {})) headers[k] = headerValue(t, v);
        const auth = spec.auth;
        if (auth?.header) headers[auth.header.name] = headerValue(auth.header.value, v);
        if (auth?.basic) headers.authorization = basicAuth(fill(auth.basic.username, v), fill(auth.basic.password, v));
        if (auth?.query) url.searchParams.append(auth.query.name, fill(auth.query.value, v));
        let body: string | undefined;
        if (format === 'query') {
          for (const [k, val] of fillFields((spec.body ?? {}) as Record<string, unknown>, v)) url.searchParams.append(k, val);
        } else if (spec.body !== undefined) {
          const json = format === 'json';
          body = json ? JSON.stringify(fillJson(spec.body, v)) : new URLSearchParams(fillFields(spec.body as Record<string, unknown>, v)).toString();
          headers['content-type'] ??= json ? JSON_TYPE : FORM;
        }
        return { url: url.toString(), method: (spec.method ?? (format === 'query' ? 'GET' : 'POST')) as ProviderRequest['method'], headers, body };
      },
      accept: (a) => statusIn(a.status, successStatus),
      failure(a, ctx) {
        const code = (spec.errorCode ? text(a.json, spec.errorCode) : undefined) ?? `http_${a.status}`;
        const retryable = statusIn(a.status, retryableStatuses) || retryableCodes.has(code);
        return new ProviderError(`${s.label} answered ${a.status}: ${describe(a)}`, {
          code,
          retryable,
          retryAfterMs: retryable ? retryAfterMs(a.headers['retry-after'], ctx.now()) : undefined,
          status: a.status,
          raw: a.json ?? capText(a.text),
        });
      },
      read(a, _m, ctx) {
        const path = spec.success?.path;
        const found = path === undefined ? undefined : text(a.json, path);
        const ok = path === undefined || (spec.success!.equals === undefined ? found !== undefined : found === String(spec.success!.equals));
        if (!ok) {
          const code = (spec.errorCode ? text(a.json, spec.errorCode) : undefined) ?? 'provider_error';
          throw answerError(s, a, code, describe(a), retryableCodes.has(code));
        }
        return sent(s, a, spec.messageId ? text(a.json, spec.messageId) : `${name}:${ctx.jobId}:${ctx.attempt}`);
      },
    });
  },
};
