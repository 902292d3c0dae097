// Job ids the SQLite store makes (migration 003). When Fusion chooses a job's id (NewJob.madeId),
// the store keeps the UUIDv7 resolveSpec made but writes the row's seq into its last 48 bits, so a
// lookup by that id is a lookup of the seq (the table's own b-tree), checked against the stored
// id, and no id index is written. A seq is never taken twice (a delete raises a floor new seqs
// start above: raiseSeqFloor in statements.ts), so a made id never comes back for another job; the
// first 80 bits (the millisecond, the version, the process's counter) order ids by creation. Ids a
// caller gave are stored as given, in the jobs_given_id index.
import type { NewJob } from '../../core/job.js';

const SEQ_AT = 24;
const SEQ_LIMIT = 2 ** 48;

/** The seq an id of this store's making carries, or null for an id of another shape. */
export function seqOfId(id: string): number | null {
  if (id.length !== 36 || id.charCodeAt(14) !== 55 /* 7 */ || id.charCodeAt(23) !== 45 /* - */) return null;
  const seq = Number(`0x${id.slice(SEQ_AT)}`);
  return Number.isNaN(seq) ? null : seq;
}

/** Whether the store may give the job an id of its own (Fusion chose its id, a UUIDv7), at `seq`. */
export function mayMakeId(j: NewJob, seq: number): boolean {
  const made = j.madeId;
  return made !== undefined && j.id === made && seq < SEQ_LIMIT && made.length === 36 && made.charCodeAt(14) === 55 && made.charCodeAt(23) === 45;
}

/** The prefix of the ids made from this job's (the seq follows). */
export const idPrefix = (j: NewJob): string => j.madeId!.slice(0, SEQ_AT);

/** A made id: the prefix, then the seq in 12 hex digits (insertAlikeSql builds the same in SQL). */
export const madeId = (prefix: string, seq: number): string => prefix + seq.toString(16).padStart(36 - SEQ_AT, '0');
