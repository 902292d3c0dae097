// Job ids are UUIDv7 (RFC 9562): time-ordered (sortable by creation), unique without coordination.
// Built here rather than by the uuid package because its v7 asks the OS (getRandomValues) for 16
// bytes per id, ~3 µs, a tenth of an HTTP enqueue; here random bytes come from a pooled buffer.
// The layout is uuid's: 48-bit ms time, then a 32-bit counter seeded at random each millisecond
// (monotonic within a process, even when the clock steps back), then 18 random bits.
import { randomFillSync } from 'node:crypto';

// Per id: 4 bytes to seed the counter, 6 for the random tail (2 bits of the first, then 5 bytes).
const BYTES_PER_ID = 10;
const pool = Buffer.allocUnsafe(BYTES_PER_ID * 256);
let poolAt = pool.length;

/** Each byte's two lower-case hex digits. */
export const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));
/** Each hex digit's character code (0-9, a-f). */
const HEX_DIGIT: readonly number[] = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));

let lastMs = -Infinity;
let seq = 0;

// The first 24 characters (the time, the version, the counter's top 26 bits and the dashes) change
// once per 64 ids within a millisecond: made once and reused, an id is that head and a 12-character
// tail. Built whole, an id was some twenty string pieces (joined past 13 characters, V8 keeps the
// pieces and joins them later); a batch of 1,000 enqueues made 20,000 of them.
let headMs = -Infinity;
let headCount = -1;
let head = '';
/** The id newId made last: its head is `head` (headOfId). null before the first, which '' would match. */
let lastId: string | null = null;

/** An id's head: the 48-bit time, the version, the counter's top 26 bits and the dashes (headOf). */
export const ID_HEAD_LENGTH = 24;

/**
 * A new UUIDv7 string, greater than every id this process made before. `now` (epoch ms) is the
 * time it carries when it is later than the last id's: a caller making a batch of ids reads the
 * clock once (Date.now() is a call into V8's runtime, ~60 ns, a tenth of the id).
 */
export function newId(now = Date.now()): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += BYTES_PER_ID;
  let ms = now;
  if (ms > lastMs) {
    // 31 random bits: room to count up within the millisecond before spilling into the next.
    seq = ((pool[r]! & 0x7f) << 24) | (pool[r + 1]! << 16) | (pool[r + 2]! << 8) | pool[r + 3]!;
    lastMs = ms;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
    ms = lastMs;
  }
  if (ms !== headMs || seq >>> 6 !== headCount) {
    headMs = ms;
    headCount = seq >>> 6;
    head = headOf(ms, seq);
  }
  // The tail (the counter's low 6 bits, then the random bits) in one String.fromCharCode: its six
  // bytes as HEX pairs joined were five strings made and copied (~330 instructions more, callgrind).
  const b = ((seq << 2) & 0xff) | (pool[r + 4]! & 0x03);
  const b5 = pool[r + 5]!, b6 = pool[r + 6]!, b7 = pool[r + 7]!, b8 = pool[r + 8]!, b9 = pool[r + 9]!;
  return (lastId = head + String.fromCharCode(
    HEX_DIGIT[b >>> 4]!, HEX_DIGIT[b & 15]!, HEX_DIGIT[b5 >>> 4]!, HEX_DIGIT[b5 & 15]!, HEX_DIGIT[b6 >>> 4]!, HEX_DIGIT[b6 & 15]!,
    HEX_DIGIT[b7 >>> 4]!, HEX_DIGIT[b7 & 15]!, HEX_DIGIT[b8 >>> 4]!, HEX_DIGIT[b8 & 15]!, HEX_DIGIT[b9 >>> 4]!, HEX_DIGIT[b9 & 15]!,
  ));
}

/**
 * The head of `id` (its first ID_HEAD_LENGTH characters) when it is a UUIDv7 string, else null.
 * For the id newId made last (a lone add's), the head it was made from: that id is two strings
 * joined, which V8 keeps as a pair, and reading its characters first copies it into one string
 * (~800 instructions, callgrind of a SQLite lone add, where the store takes the head alone).
 */
export function headOfId(id: string): string | null {
  if (id === lastId) return head;
  return id.length === 36 && id.charCodeAt(14) === 55 /* 7 */ && id.charCodeAt(23) === 45 /* - */ ? id.slice(0, ID_HEAD_LENGTH) : null;
}

/** An id's first 24 characters: 48-bit ms time, version 7, counter bits 31-6 under the variant. */
function headOf(ms: number, seq: number): string {
  const hi = Math.floor(ms / 0x100000000);
  const lo = ms >>> 0;
  return (
    HEX[(hi >>> 8) & 0xff]! + HEX[hi & 0xff]! + HEX[lo >>> 24]! + HEX[(lo >>> 16) & 0xff]! + '-' +
    HEX[(lo >>> 8) & 0xff]! + HEX[lo & 0xff]! + '-' +
    HEX[0x70 | ((seq >>> 28) & 0x0f)]! + HEX[(seq >>> 20) & 0xff]! + '-' +
    HEX[0x80 | ((seq >>> 14) & 0x3f)]! + HEX[(seq >>> 6) & 0xff]! + '-'
  );
}
