// Wall-clock time in IANA zones with Intl only (no tz dependency). A "wall" time is the local
// date-time of a zone written as if it were UTC epoch ms: wall 2026-03-29 02:30 in Berlin is
// Date.UTC(2026, 2, 29, 2, 30). RRULE expansion happens in wall time; these functions map it
// to instants with the RFC 5545 §3.3.5 rule.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** The zone's local date-time at instant `t`, as wall ms. */
export function wallOf(t: number, tz: string): number {
  if (tz === 'UTC') return t;
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  // formatToParts has second precision; keep the milliseconds of t.
  const ms = ((t % 1000) + 1000) % 1000;
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) + ms;
}

/** UTC offset (ms) of the zone at instant t. */
export function offsetAt(t: number, tz: string): number {
  return wallOf(t, tz) - t;
}

const DAY = 86_400_000;

/**
 * The instant of wall time `w` in `tz`. RFC 5545 §3.3.5: a wall time that occurs twice
 * (clocks go back) means its first occurrence; one that does not exist (clocks go forward)
 * is read with the UTC offset from before the gap, i.e. shifted forward by the gap's length
 * (02:30 on a 02:00→03:00 day is 03:30).
 */
export function instantOf(w: number, tz: string): number {
  if (tz === 'UTC') return w;
  const before = offsetAt(w - DAY, tz);
  const after = offsetAt(w + DAY, tz);
  const valid = [w - before, w - after].filter((t) => wallOf(t, tz) === w);
  if (valid.length > 0) return Math.min(...valid);
  return w - before;
}
