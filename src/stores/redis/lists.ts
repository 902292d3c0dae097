// Reads of jobs: one job, its log lines, and pages of jobs across queues (newest first by enqueue
// seq, or one state in its own index order through the state-page script).
import type { Job, JobState, LogLine } from '../../core/job.js';
import { isFinished } from '../../core/job.js';
import { FusionError } from '../../core/errors.js';
import type { JobRef, ListQuery, Page } from '../../core/store.js';
import { statePageScript } from './script-calls.js';
import { FIELDS, rowToJob } from './codec.js';
import type { RedisContext } from './context.js';

/** Most jobs a filtered list looks at before it answers with what it found and a cursor to go on. */
const LIST_SCAN_BUDGET = 5000;
/** Jobs a task-filtered list reads per round. */
const FILTERED_BATCH = 200;

/** Where a newest-first list goes on: after this seq, queues ordered after this one first. */
interface SeqCursor {
  seq: number;
  queue: string;
}
/**
 * Where a list of one state goes on: after this row of the state's index (its score as Redis wrote
 * it, its member, its queue). A position, not an offset, so jobs that come or go between pages
 * neither repeat nor skip the jobs there all along.
 */
interface KeyCursor {
  score: string;
  member: string;
  queue: string;
}
type Cursor = SeqCursor | KeyCursor | null;

/** A job a page may hold: its seq (newest-first lists) or its index row (state lists). */
interface Candidate {
  id: string;
  queue: string;
  seq?: number;
  key?: KeyCursor;
}

export class JobLists {
  constructor(private readonly ctx: RedisContext) {}

  async getJob({ id }: JobRef): Promise<Job | null> {
    const { ctx } = this;
    const queue = await ctx.locate(id);
    if (!queue) return null;
    return rowToJob(id, queue, await ctx.client.hmget(ctx.keys.job(queue, id), ...FIELDS));
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    const { ctx } = this;
    const queue = await ctx.locate(id);
    if (!queue) return [];
    const lines = await ctx.client.lrange(ctx.keys.jobLog(queue, id), 0, -1);
    return lines.map((line) => {
      const space = line.indexOf(' ');
      return { at: Number(line.slice(0, space)), message: line.slice(space + 1) };
    });
  }

  /**
   * Without a state: newest first (by enqueue seq) across queues, with a seq cursor. With a state:
   * that state's own index order (queued in run order, scheduled by due time, active by lease,
   * finished newest end first) with a cursor at the last row's place in it.
   */
  async listJobs(query: ListQuery): Promise<Page<Job>> {
    const { ctx } = this;
    const queues = query.queue !== undefined ? [query.queue] : await ctx.allQueues();
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 1000);
    const batch = query.task !== undefined ? FILTERED_BATCH : limit + 1;
    const byState = query.state !== undefined;
    let cursor: Cursor = query.cursor !== undefined ? parseCursor(query.cursor, byState) : null;
    const items: { job: Job; after: Cursor }[] = [];
    let scanned = 0;
    for (;;) {
      const candidates = byState
        ? await this.statePage(queues, query.state!, cursor as KeyCursor | null, batch)
        : await this.seqPage(queues, cursor as SeqCursor | null, batch);
      const rows = await Promise.all(candidates.map((c) => ctx.client.hmget(ctx.keys.job(c.queue, c.id), ...FIELDS)));
      for (let i = 0; i < candidates.length && items.length <= limit; i++) {
        const candidate = candidates[i]!;
        cursor = byState ? candidate.key! : { seq: candidate.seq!, queue: candidate.queue };
        scanned++;
        const job = rowToJob(candidate.id, candidate.queue, rows[i]!);
        if (!job || (query.task !== undefined && job.task !== query.task)) continue;
        items.push({ job, after: cursor });
      }
      if (items.length > limit) {
        return { items: items.slice(0, limit).map((x) => x.job), nextCursor: cursorText(items[limit - 1]!.after) };
      }
      if (candidates.length < batch) return { items: items.map((x) => x.job), nextCursor: null };
      // A filtered list over a long history answers with what it found and a cursor to go on, never an unbounded scan.
      if (scanned >= LIST_SCAN_BUDGET) return { items: items.map((x) => x.job), nextCursor: cursorText(cursor) };
    }
  }

  /** Up to `count` jobs after the cursor, ordered (seq desc, queue desc) across queues. */
  private async seqPage(queues: string[], cursor: SeqCursor | null, count: number): Promise<Candidate[]> {
    const { ctx } = this;
    const lists = await Promise.all(queues.map(async (queue) => {
      const max = cursor === null ? '+inf' : queue < cursor.queue ? String(cursor.seq) : `(${cursor.seq}`;
      const flat = await ctx.client.zrevrangebyscore(ctx.keys.allJobs(queue), max, '-inf', 'WITHSCORES', 'LIMIT', 0, count);
      const out: Candidate[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, seq: Number(flat[i + 1]), queue });
      return out;
    }));
    return lists.flat().sort((a, b) => b.seq! - a.seq! || (a.queue < b.queue ? 1 : a.queue > b.queue ? -1 : 0)).slice(0, count);
  }

  /**
   * Up to `count` jobs of one state after the cursor, merged across queues in the order (score,
   * member, queue), each way round for newest-first states: within a queue that is its index's
   * order (Redis orders equal scores by member bytes), and ties across queues go by queue name.
   */
  private async statePage(queues: string[], state: JobState, cursor: KeyCursor | null, count: number): Promise<Candidate[]> {
    const { ctx } = this;
    const reverse = isFinished(state);
    const direction = reverse ? -1 : 1;
    const lists = await Promise.all(queues.map(async (queue) => {
      // A queue after the cursor's in the merge order still owes the rows equal to the cursor's.
      const after = cursor && { score: cursor.score, member: cursor.member, inclusive: direction * byteOrder(queue, cursor.queue) > 0 };
      const flat = await ctx.run(statePageScript({ queueKeyBase: ctx.keys.queueKeyBase(queue), state, count, reverse, after }));
      const out: Candidate[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const member = flat[i]!;
        // A ready member is the 17-digit seq, then the id.
        out.push({ id: state === 'queued' ? member.slice(17) : member, queue, key: { score: flat[i + 1]!, member, queue } });
      }
      return out;
    }));
    return lists.flat()
      .sort((x, y) => direction * (Number(x.key!.score) - Number(y.key!.score) || byteOrder(x.key!.member, y.key!.member) || byteOrder(x.queue, y.queue)))
      .slice(0, count);
  }
}

/** Byte order of the UTF-8 text, as Redis orders members (JS's < compares UTF-16 units). */
function byteOrder(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function cursorText(cursor: Cursor): string | null {
  if (cursor === null) return null;
  return 'member' in cursor
    ? `k${Buffer.from(JSON.stringify([cursor.score, cursor.member, cursor.queue])).toString('base64url')}`
    : `${cursor.seq.toString(36)}~${cursor.queue}`;
}

function parseCursor(text: string, byState: boolean): Cursor {
  const bad = (message = 'cursor is not one this store gave') => new FusionError('invalid_cursor', message, { cursor: text });
  if (byState) {
    // Versions before 2026-12-07 gave offsets ("o" + base 36): where they pointed has moved since.
    if (/^o[0-9a-z]+$/.test(text)) throw bad('cursor is an offset from an earlier version of Fusion: list again from the first page');
    let parts: unknown;
    try {
      parts = text.startsWith('k') ? JSON.parse(Buffer.from(text.slice(1), 'base64url').toString()) : null;
    } catch {
      throw bad();
    }
    if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((p) => typeof p === 'string') || !/^-?\d+(\.\d+)?(e[+-]?\d+)?$/.test(parts[0] as string)) throw bad();
    const [score, member, queue] = parts as string[];
    return { score: score!, member: member!, queue: queue! };
  }
  const tilde = text.indexOf('~');
  const seq = tilde > 0 ? Number.parseInt(text.slice(0, tilde), 36) : NaN;
  if (!Number.isFinite(seq)) throw bad();
  return { seq, queue: text.slice(tilde + 1) };
}
