// An http(s) URL a payload gives (an attachment, a callback): checked at enqueue, so a bad one is a
// 400 naming its field rather than a failed attempt later.
import { FusionError } from '../../core/errors.js';

export const MAX_PAYLOAD_URL = 2000;

export function payloadUrl(v: unknown, field: string, max = MAX_PAYLOAD_URL): string {
  const bad = (message: string) => new FusionError('invalid_payload', message, { field });
  if (typeof v !== 'string' || !v) throw bad(`${field} must be a URL`);
  if (v.length > max) throw bad(`${field} must be at most ${max} characters`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(`${field} is not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`${field} must be an http or https URL`);
  return v;
}
