// Bodies are limited in depth as well as size. A payload nested thousands of levels deep costs
// every recursive step after the parser (validation, masking, hashing, serialization in a store)
// and can overflow the stack there; it is refused at the door, before JSON.parse, by one linear
// scan of the text that counts brackets outside strings.
import { apiError } from './errors.js';

/** Deepest nesting of objects/arrays a body may have (the body itself is level 1). */
export const DEFAULT_MAX_DEPTH = 64;

/** True when JSON text nests objects/arrays deeper than `max`. Not a validator: JSON.parse still decides. */
export function tooDeep(text: string, max: number): boolean {
  // Nesting deeper than max takes max + 1 opening and as many closing brackets: a shorter text
  // (most bodies: a 100-byte job is under the 130 characters the default limit needs) cannot.
  if (text.length < 2 * (max + 1)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

export const payloadTooDeep = (max: number, field = 'body') =>
  apiError(400, 'payload_too_deep', `${field} nests objects or arrays more than ${max} levels deep`, { field, limit: max });
