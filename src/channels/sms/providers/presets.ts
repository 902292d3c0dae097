// Known gateways for the generic HTTP provider (`type: "http", preset: "..."`), each written from the
// gateway's documented HTTP API. Config supplies the credentials (and `vars` where a preset names
// some); any spec field given in config overrides the preset's.

export interface HttpSpec {
  method?: 'GET' | 'POST' | 'PUT';
  url: string;
  format?: 'json' | 'form' | 'query';
  body?: unknown;
  headers?: Record<string, string>;
  auth?: { header?: { name: string; value: string }; query?: { name: string; value: string }; basic?: { username: string; password: string } };
  success?: { status?: (number | string)[]; path?: string; equals?: string | number | boolean | null };
  messageId?: string;
  errorCode?: string;
  errorMessage?: string;
  retryableStatuses?: (number | string)[];
  retryableCodes?: string[];
  /** Credential fields this gateway needs (checked at start). */
  requires?: string[];
}

export interface HttpPreset extends HttpSpec {
  /** The gateway's real API base ({{base_url}}); config `baseUrl` overrides it. */
  baseUrl: string;
  /** Defaults for {{vars.NAME}}. */
  vars?: Record<string, string>;
}

export const SMS_PRESETS: Record<string, HttpPreset> = {
  // Fast2SMS (India), Quick SMS route: POST /dev/bulkV2, header `authorization: <API key>`, 10-digit numbers.
  // Answer { return: true, request_id, message: [...] }; errors { return: false, status_code, message }.
  fast2sms: {
    baseUrl: 'https://www.fast2sms.com',
    url: '{{base_url}}/dev/bulkV2',
    format: 'json',
    auth: { header: { name: 'authorization', value: '{{apiKey}}' } },
    headers: { 'cache-control': 'no-cache' },
    body: { route: '{{vars.route}}', message: '{{text}}', language: 'english', flash: 0, numbers: '{{to_national}}' },
    vars: { route: 'q' },
    success: { status: ['2xx'], path: 'return', equals: true },
    messageId: 'request_id',
    errorCode: 'status_code',
    errorMessage: 'message',
    requires: ['apiKey'],
  },
  // Gupshup Enterprise SMS (India): POST /GatewayAPI/rest, form fields method=SendMessage, send_to, msg,
  // msg_type, userid, password (auth_scheme=plain), v=1.1, format=json. Answer { response: { id, phone,
  // details, status: "success" | "error" } }; on error `id` holds Gupshup's error code.
  gupshup: {
    baseUrl: 'https://enterprise.smsgupshup.com',
    url: '{{base_url}}/GatewayAPI/rest',
    format: 'form',
    body: {
      method: 'SendMessage',
      send_to: '{{to_digits}}',
      msg: '{{text}}',
      msg_type: 'TEXT',
      userid: '{{username}}',
      auth_scheme: 'plain',
      password: '{{password}}',
      v: '1.1',
      format: 'json',
      mask: '{{sender}}',
      dltTemplateId: '{{template_id}}',
    },
    success: { status: ['2xx'], path: 'response.status', equals: 'success' },
    messageId: 'response.id',
    errorCode: 'response.id',
    errorMessage: 'response.details',
    requires: ['username', 'password'],
  },
  // Kaleyra (api.kaleyra.io v1): POST /v1/{SID}/messages, header `api-key`, form to, sender, type, body,
  // template_id. Answer { id, data: [{ message_id, recipient }], ... }; errors { code, message }.
  kaleyra: {
    baseUrl: 'https://api.kaleyra.io',
    url: '{{base_url}}/v1/{{accountId}}/messages',
    format: 'form',
    auth: { header: { name: 'api-key', value: '{{apiKey}}' } },
    body: { to: '{{to}}', sender: '{{sender}}', type: '{{vars.type}}', body: '{{text}}', template_id: '{{template_id}}' },
    vars: { type: 'DEFAULT' },
    success: { status: ['2xx'], path: 'id' },
    messageId: 'data.0.message_id',
    errorCode: 'code',
    errorMessage: 'message',
    requires: ['accountId', 'apiKey'],
  },
  // TeleSign Messaging: POST /v1/messaging, Basic customerId:apiKey, form phone_number (digits with
  // country code), message, message_type. Answer { reference_id, status: { code: 290, description:
  // "Message in progress" } }; errors carry status.code (e.g. 11000 invalid parameter).
  telesign: {
    baseUrl: 'https://rest-api.telesign.com',
    url: '{{base_url}}/v1/messaging',
    format: 'form',
    auth: { basic: { username: '{{accountId}}', password: '{{apiKey}}' } },
    body: { phone_number: '{{to_digits}}', message: '{{text}}', message_type: '{{vars.messageType}}', sender_id: '{{sender}}' },
    vars: { messageType: 'ARN' },
    success: { status: ['2xx'], path: 'status.code', equals: 290 },
    messageId: 'reference_id',
    errorCode: 'status.code',
    errorMessage: 'status.description',
    requires: ['accountId', 'apiKey'],
  },
  // BulkSMS JSON REST API v1: POST /v1/messages?auto-unicode=true, Basic (username:password or token
  // id:secret), JSON { to, body, from? }. Answer 201: an array of messages [{ id, type, status: { type } }].
  bulksms: {
    baseUrl: 'https://api.bulksms.com',
    url: '{{base_url}}/v1/messages?auto-unicode=true',
    format: 'json',
    auth: { basic: { username: '{{username}}', password: '{{password}}' } },
    body: { to: '{{to}}', body: '{{text}}', from: '{{sender}}' },
    success: { status: [201, 200] },
    messageId: '0.id',
    errorMessage: 'detail',
    requires: ['username', 'password'],
  },
  // Unifonic (Saudi Arabia): POST /rest/SMS/messages, form AppSid, SenderID, Body, Recipient (digits).
  // Answer { success: true, errorCode: "ER-00", data: { MessageID, Status } }; errors success false + errorCode.
  unifonic: {
    baseUrl: 'https://el.cloud.unifonic.com',
    url: '{{base_url}}/rest/SMS/messages',
    format: 'form',
    body: { AppSid: '{{apiKey}}', SenderID: '{{sender}}', Body: '{{text}}', Recipient: '{{to_digits}}', responseType: 'JSON' },
    success: { status: ['2xx'], path: 'success', equals: true },
    messageId: 'data.MessageID',
    errorCode: 'errorCode',
    errorMessage: 'message',
    requires: ['apiKey'],
  },
};
