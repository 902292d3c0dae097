// A small template substituter for the generic HTTP provider: `{{name}}` placeholders replaced by
// values, encoded for where they land. No expressions, no eval: a placeholder is a name looked up in a
// map, nothing else. Substitution is one pass, so a value that itself contains `{{...}}` (a message
// text, say) is never expanded again. Names are checked when the provider is created, so a typo in
// config fails at start, not at the first send.

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\s*\}\}$/;

export type Values = Record<string, string | undefined>;

/** Every placeholder name used in a template (strings anywhere inside objects and arrays). */
export function placeholders(template: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof template === 'string') for (const m of template.matchAll(PLACEHOLDER)) into.add(m[1]!);
  else if (Array.isArray(template)) for (const t of template) placeholders(t, into);
  else if (template && typeof template === 'object') for (const t of Object.values(template)) placeholders(t, into);
  return into;
}

/** A string with each placeholder replaced by `encode(value)` (absent values are empty). */
export function fill(template: string, values: Values, encode: (v: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (_, name: string) => encode(values[name] ?? ''));
}

/**
 * A JSON template filled: strings are filled (JSON encoding happens when the result is stringified);
 * numbers, booleans and null stay as written. A field whose whole value is one placeholder with no
 * value is left out, so optional values (a sender, a template id) need no template of their own.
 */
export function fillJson(template: unknown, values: Values): unknown {
  if (typeof template === 'string') return fill(template, values);
  if (Array.isArray(template)) return template.filter((t) => !absent(t, values)).map((t) => fillJson(t, values));
  if (template && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) if (!absent(v, values)) out[k] = fillJson(v, values);
    return out;
  }
  return template;
}

function absent(t: unknown, values: Values): boolean {
  if (typeof t !== 'string') return false;
  const m = WHOLE.exec(t);
  return m !== null && !values[m[1]!];
}

/** Form or query fields filled (URLSearchParams does the encoding); empty single-placeholder fields left out. */
export function fillFields(template: Record<string, unknown>, values: Values): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(template)) {
    if (absent(v, values)) continue;
    out.push([k, typeof v === 'string' ? fill(v, values) : String(v)]);
  }
  return out;
}
