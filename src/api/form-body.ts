// Form bodies (application/x-www-form-urlencoded, and text/plain that reads as one): the original
// Fusion accepted them on its routes. Their work is bounded like a JSON body's: the fields are
// counted before anything is decoded, and a repeated field grows one list in place.
import { apiError } from './errors.js';
import { payloadTooDeep, tooDeep } from './body-depth.js';

/** Most fields a form body may hold (a repeated name counts each time); the original's forms have a handful. */
export const MAX_FORM_FIELDS = 1000;

export const tooManyFields = (max: number) =>
  apiError(413, 'too_many_fields', `a form body may hold at most ${max} fields`, { field: 'body', limit: max });

/** Non-empty `&`-separated pieces of `body` (the fields URLSearchParams would read), counted up to `max + 1`. */
function fieldCount(body: string, max: number): number {
  let n = 0;
  for (let from = 0; from <= body.length && n <= max;) {
    let to = body.indexOf('&', from);
    if (to === -1) to = body.length;
    if (to > from) n++;
    from = to + 1;
  }
  return n;
}

/** The fields of a form body; values that hold JSON objects or arrays are parsed, a repeated name gives a list. */
export function parseForm(body: string, maxDepth: number, maxFields = MAX_FORM_FIELDS): Record<string, unknown> {
  if (fieldCount(body, maxFields) > maxFields) throw tooManyFields(maxFields);
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of new URLSearchParams(body)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    let value: unknown = v;
    const t = v.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      // The value sits one level inside the body.
      if (tooDeep(t, maxDepth - 1)) throw payloadTooDeep(maxDepth, k);
      try {
        value = JSON.parse(t, (key, val) => (key === '__proto__' ? undefined : val));
      } catch {
        value = v;
      }
    }
    const prev = out[k];
    // Appended in place: a copy per repetition made a body of n repeats cost n² steps.
    if (prev === undefined) out[k] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[k] = [prev, value];
  }
  return { ...out };
}
