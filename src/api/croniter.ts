// Six-field cron lines as croniter reads them (the original rq-scheduler's parser): the sixth field
// is the second, at the end ("0 9 * * * 0" = 09:00:00 daily). The native trigger (croner) reads
// six fields seconds first, so the compatibility routes move that field across, both ways.
const fieldsOf = (line: string) => line.trim().split(/\s+/);

/** A compatibility route's cron line as the native trigger reads it. */
export function fromCroniter(line: string): string {
  const f = fieldsOf(line);
  return f.length === 6 ? [f[5], ...f.slice(0, 5)].join(' ') : line;
}

/** A stored cron line as croniter writes it, for the compatibility routes' answers. */
export function toCroniter(line: string): string {
  const f = fieldsOf(line);
  return f.length === 6 ? [...f.slice(1), f[0]].join(' ') : line;
}
