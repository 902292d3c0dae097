// What PostgreSQL's text can hold. Its text type has no NUL character, and JSON taken apart into
// text (json_to_recordset, ->>) refuses "\u0000" and lone UTF-16 surrogates anywhere in the
// document (22P05 and "invalid input syntax"), where SQLite and Redis keep any JavaScript string.
// A json column given the JSON as a parameter keeps them (adds store payloads exactly).

/**
 * A NUL or a lone surrogate as JSON.stringify writes it: an escape (it writes a surrogate pair
 * as the two characters), not itself escaped by a backslash before it (an even run of them).
 */
const NOT_TEXT_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/**
 * JSON text (from JSON.stringify) that the server can take apart: each NUL and lone surrogate,
 * in values and keys, becomes U+FFFD, as a UTF-8 decoder writes a character it cannot read.
 */
export function pgJsonText(json: string): string {
  // Most documents hold no escape of a code point at all.
  return json.includes('\\u') ? json.replace(NOT_TEXT_ESCAPE, '$1\\ufffd') : json;
}

/** A job's fields that go into text columns. */
const TEXT_FIELDS = ['id', 'queue', 'task', 'description', 'scheduleId'] as const;

/**
 * The first of a job's text fields holding a NUL, which a text column cannot take (the server
 * answers 22021): null when none does. (A lone surrogate the driver sends as U+FFFD; SQLite's and
 * Redis's clients replace one too.)
 */
export function untextableField(j: { [K in (typeof TEXT_FIELDS)[number]]?: string | null }): string | null {
  // Not only strings: a schedule's template stored before the enqueue checks may hold a number here.
  for (const f of TEXT_FIELDS) {
    const v: unknown = j[f];
    if (typeof v === 'string' && v.includes('\u0000')) return f;
  }
  return null;
}

/** `s` with each NUL as U+FFFD: for text kept for people to read (log lines), not refused. */
export function withoutNul(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\ufffd') : s;
}
