// The whatsapp task's payload, checked at enqueue, in either form:
//   original worker: { contact, countryCode, message, template_name, template_params, media_url, config: { provider } }
//   native:          { to (E.164), text, template: { name, language, params }, media: { url, type, filename }, provider }
// Numbers are read by the sms channel's parseRecipient (libphonenumber-js), so both channels agree
// on what a number is. Media goes by link: the provider fetches it, Fusion never does.
import { FusionError } from '../../core/errors.js';
import { parseRecipient } from '../sms/payload.js';
import type { MediaType, WhatsAppMessage } from './message.js';
import { isPlainObject } from '../../core/plain-object.js';

const MAX_TEXT = 4096;
const MAX_PARAMS = 50;
const MEDIA_TYPES: MediaType[] = ['image', 'document', 'video', 'audio'];

export interface ParsedWhatsApp {
  message: WhatsAppMessage;
  /** The template language was not given: the channel's default applies. */
  defaultLanguage: boolean;
  provider?: string;
  original: boolean;
}

const bad = (field: string, message: string) => new FusionError('invalid_payload', message, { field });
const given = (v: unknown) => v !== undefined && v !== null && v !== '';

function str(o: Record<string, unknown>, key: string, field: string, max: number): string | undefined {
  const v = o[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw bad(field, `${field} must be a string`);
  if (v.length > max) throw bad(field, `${field} must be at most ${max} characters`);
  return v;
}

/** The kind of media a URL most likely holds, by its extension (documents when unsure). */
export function mediaTypeOf(url: string): MediaType {
  const ext = /\.([a-z0-9]{2,5})$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? '';
  if (['jpg', 'jpeg', 'png', 'webp'].includes(ext)) return 'image';
  if (['mp4', '3gp'].includes(ext)) return 'video';
  if (['mp3', 'ogg', 'aac', 'amr', 'm4a', 'opus'].includes(ext)) return 'audio';
  return 'document';
}

function mediaUrl(v: string, field: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(field, `${field} must be an http(s) URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad(field, `${field} must be an http(s) URL`);
  return v;
}

function params(v: unknown, field: string): string[] {
  if (!given(v)) return [];
  if (!Array.isArray(v)) throw bad(field, `${field} must be a list of values`);
  if (v.length > MAX_PARAMS) throw bad(field, `${field} takes at most ${MAX_PARAMS} values`);
  return v.map((x, i) => {
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    if (typeof x !== 'string') throw bad(`${field}.${i}`, `${field}.${i} must be text`);
    if (x.length > 1024) throw bad(`${field}.${i}`, `${field}.${i} must be at most 1024 characters`);
    return x;
  });
}

/** Parse and check a payload. Throws FusionError (code invalid_payload, details.field relative to the payload). */
export function parseWhatsAppPayload(payload: unknown): ParsedWhatsApp {
  if (!isPlainObject(payload)) throw bad('', 'a whatsapp payload must be an object');
  const p = payload;
  const original = p.to === undefined && (p.contact !== undefined || p.message !== undefined || p.template_name !== undefined);
  const number = parseRecipient(p, original);
  const base = { to: number.number, callingCode: number.countryCallingCode };

  if (p.config !== undefined && p.config !== null && !isPlainObject(p.config)) throw bad('config', 'config must be an object');
  let provider: string | undefined;
  if (isPlainObject(p.config) && given(p.config.provider)) provider = str(p.config, 'provider', 'config.provider', 100);
  if (given(p.provider)) provider = str(p, 'provider', 'provider', 100);

  const textField = original || (p.text === undefined && p.message !== undefined) ? 'message' : 'text';
  const text = str(p, textField, textField, MAX_TEXT);
  let message: WhatsAppMessage;
  let defaultLanguage = false;

  if (original && given(p.template_name)) {
    const name = str(p, 'template_name', 'template_name', 512)!;
    const language = str(p, 'template_language', 'template_language', 20);
    defaultLanguage = !language;
    message = { ...base, kind: 'template', template: { name, language: language ?? '', params: params(p.template_params, 'template_params') } };
  } else if (!original && given(p.template)) {
    if (!isPlainObject(p.template)) throw bad('template', 'template must be an object: { name, language, params }');
    const name = str(p.template, 'name', 'template.name', 512);
    if (!name) throw bad('template.name', 'template.name is required');
    const language = str(p.template, 'language', 'template.language', 20);
    defaultLanguage = !language;
    message = { ...base, kind: 'template', template: { name, language: language ?? '', params: params(p.template.params, 'template.params') } };
  } else if (original && given(p.media_url)) {
    const url = mediaUrl(str(p, 'media_url', 'media_url', 2000)!, 'media_url');
    message = { ...base, kind: 'media', media: { url, type: mediaTypeOf(url) }, ...(text ? { text } : {}) };
  } else if (!original && given(p.media)) {
    if (!isPlainObject(p.media)) throw bad('media', 'media must be an object: { url, type }');
    const raw = str(p.media, 'url', 'media.url', 2000);
    if (!raw) throw bad('media.url', 'media.url is required');
    const url = mediaUrl(raw, 'media.url');
    const t = p.media.type;
    if (given(t) && !MEDIA_TYPES.includes(t as MediaType)) throw bad('media.type', `media.type must be one of ${MEDIA_TYPES.join(', ')}`);
    const filename = str(p.media, 'filename', 'media.filename', 240);
    const caption = str(p.media, 'caption', 'media.caption', 1024) ?? text;
    message = { ...base, kind: 'media', media: { url, type: (t as MediaType | undefined) ?? mediaTypeOf(url), ...(filename ? { filename } : {}) }, ...(caption ? { text: caption } : {}) };
  } else {
    if (!text) throw bad(textField, `${textField} is required (or a template${original ? '_name' : ''}, or ${original ? 'media_url' : 'media'})`);
    message = { ...base, kind: 'text', text };
  }
  return { message, defaultLanguage, original, ...(provider ? { provider } : {}) };
}
