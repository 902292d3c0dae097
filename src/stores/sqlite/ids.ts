// Job ids the SQLite store makes (migration 003). When Fusion chooses a job's id (NewJob.madeId),
// the store keeps the UUIDv7 resolveSpec made but writes the row's seq into its last 48 bits, so a
// lookup by that id is a lookup of the seq (the table's own b-tree), checked against the stored
// id, and no id index is written. A seq is never taken twice (a delete raises a floor new seqs
// start above: raiseSeqFloor in statements.ts), so a made id never comes back for another job; the
// first 80 bits (the millisecond, the version, the process's counter) order ids by creation. The
// jobs of one alike INSERT (jobs-in.ts) share its first job's 80 bits, so an id's millisecond may be a
// few before its job's createdAt; the seq still orders them. Ids a caller gave are stored as given,
// in the jobs_given_id index.
import { HEX, headOfId, ID_HEAD_LENGTH } from '../../core/ids.js';
import type { NewJob } from '../../core/job.js';

/** The seq follows the head of the id Fusion made (core/ids.ts). */
const SEQ_AT = ID_HEAD_LENGTH;
/** Seqs an id carries: 48 bits. */
export const SEQ_LIMIT = 2 ** 48;

/** The seq an id of this store's making carries, or null for an id of another shape. */
export function seqOfId(id: string): number | null {
  if (id.length !== 36 || id.charCodeAt(14) !== 55 /* 7 */ || id.charCodeAt(23) !== 45 /* - */) return null;
  const seq = Number(`0x${id.slice(SEQ_AT)}`);
  return Number.isNaN(seq) ? null : seq;
}

/**
 * Whether the store may give the job an id of its own (Fusion chose its id: NewJob.madeId), at
 * `seq`. Which prefix the id gets is idPrefix's: a job in a run of alike ones takes the first's.
 */
export function mayMakeId(j: NewJob, seq: number): boolean {
  return j.madeId !== undefined && j.id === j.madeId && seq < SEQ_LIMIT;
}

/** The prefix of the ids made from this job's (the seq follows), or null when its made id is not a UUIDv7 string. */
export function idPrefix(j: NewJob): string | null {
  return headOfId(j.madeId!);
}

// The prefix and the seq's first 10 hex digits, as last made: they change once per 256 seqs.
let stemPrefix = '';
let stemHigh = -1;
let stem = '';

/** A made id: the prefix, then the seq in 12 hex digits (insertAlikeSql builds the same in SQL). */
export function madeId(prefix: string, seq: number): string {
  const high = Math.floor(seq / 256);
  if (high !== stemHigh || prefix !== stemPrefix) {
    stemPrefix = prefix;
    stemHigh = high;
    stem = prefix + high.toString(16).padStart(34 - SEQ_AT, '0');
  }
  return stem + HEX[seq % 256]!;
}
