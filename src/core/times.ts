// Times as Fusion takes them: the window every stored time lies in (a Date holds each, and a
// seconds-for-milliseconds mix-up lands outside it), and ISO 8601 text read the same way by the API
// and the library: a time without an offset is UTC whatever the process's zone, and a day that
// does not exist is refused.

export const TIME_MIN = Date.UTC(1970, 0, 1);
export const TIME_MAX = Date.UTC(2200, 0, 1);
export const WINDOW_TEXT = '1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parse an ISO 8601 string; a time without an offset is taken as UTC. Returns null when not ISO. */
export function parseIso(s: string): number | null {
  const m = ISO.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', zone] = m;
  if (+mo! < 1 || +mo! > 12 || +d! < 1 || +d! > 31 || +h > 23 || +mi > 59 || +sec > 60) return null;
  const text = s.trim().replace(' ', 'T');
  const withZone = zone ? text : m[4] === undefined ? `${text}T00:00:00Z` : `${text}Z`;
  const t = Date.parse(withZone);
  if (!Number.isFinite(t)) return null;
  // Some engines roll 2026-02-31 over to March; refuse dates that do not exist.
  if (new Date(Date.UTC(+y!, +mo! - 1, +d!)).getUTCDate() !== +d!) return null;
  return t;
}
