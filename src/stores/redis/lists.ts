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
/** Where a list of one state goes on: this many jobs in. */
interface OffsetCursor {
  offset: number;
}
type Cursor = SeqCursor | OffsetCursor | null;

/** A job a page may hold: its seq (newest-first lists) or its index score as [band, seq] (state lists). */
interface Candidate {
  id: string;
  queue: string;
  seq?: number;
  sortKey?: [number, number];
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
   * finished newest end first) with an offset cursor, like BullMQ's getJobs.
   */
  async listJobs(query: ListQuery): Promise<Page<Job>> {
    const { ctx } = this;
    const queues = query.queue !== undefined ? [query.queue] : await ctx.allQueues();
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 1000);
    const batch = query.task !== undefined ? FILTERED_BATCH : limit + 1;
    const byState = query.state !== undefined;
    let cursor: Cursor = query.cursor !== undefined ? parseCursor(query.cursor, byState) : byState ? { offset: 0 } : null;
    const items: { job: Job; after: Cursor }[] = [];
    let scanned = 0;
    for (;;) {
      const candidates = byState
        ? await this.statePage(queues, query.state!, (cursor as OffsetCursor).offset, batch)
        : await this.seqPage(queues, cursor as SeqCursor | null, batch);
      const rows = await Promise.all(candidates.map((c) => ctx.client.hmget(ctx.keys.job(c.queue, c.id), ...FIELDS)));
      for (let i = 0; i < candidates.length && items.length <= limit; i++) {
        const candidate = candidates[i]!;
        cursor = byState ? { offset: (cursor as OffsetCursor).offset + 1 } : { seq: candidate.seq!, queue: candidate.queue };
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

  /** Jobs [offset, offset+count) of one state, merged across queues in the state's index order. */
  private async statePage(queues: string[], state: JobState, offset: number, count: number): Promise<Candidate[]> {
    const { ctx } = this;
    const newestFirst = isFinished(state);
    const lists = await Promise.all(queues.map(async (queue) => {
      const flat = await ctx.run(statePageScript({ queueKeyBase: ctx.keys.queueKeyBase(queue), state, offset: 0, count: offset + count, reverse: newestFirst }));
      const out: Candidate[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const score = flat[i + 1]!;
        // queued: "-priority:seq" → compare priority band, then seq (fixed width, so numeric order).
        const [band, seq] = score.includes(':') ? score.split(':') : [score, '0'];
        out.push({ id: flat[i]!, queue, sortKey: [Number(band), Number(seq)] });
      }
      return out;
    }));
    const direction = newestFirst ? -1 : 1;
    return lists.flat()
      .sort((x, y) => direction * (x.sortKey![0] - y.sortKey![0] || x.sortKey![1] - y.sortKey![1]) || (x.queue < y.queue ? -1 : x.queue > y.queue ? 1 : 0))
      .slice(offset, offset + count);
  }
}

function cursorText(cursor: Cursor): string | null {
  if (cursor === null) return null;
  return 'offset' in cursor ? `o${cursor.offset.toString(36)}` : `${cursor.seq.toString(36)}~${cursor.queue}`;
}

function parseCursor(text: string, byState: boolean): Cursor {
  const bad = () => new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: text });
  if (byState) {
    const offset = text.startsWith('o') ? Number.parseInt(text.slice(1), 36) : NaN;
    if (!Number.isInteger(offset) || offset < 0) throw bad();
    return { offset };
  }
  const tilde = text.indexOf('~');
  const seq = tilde > 0 ? Number.parseInt(text.slice(0, tilde), 36) : NaN;
  if (!Number.isFinite(seq)) throw bad();
  return { seq, queue: text.slice(tilde + 1) };
}
