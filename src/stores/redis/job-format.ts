// The prefix's job hash format (jobFormat in lua/lib/keys.lua): 'lean' adds write only the fields
// not at their default; 'full' (no mark) every field, for versions before the mark that read them
// without a default. `fusion store upgrade` marks a prefix with data lean (format-upgrade.lua).
import { formatUpgradeScript } from './script-calls.js';
import type { RedisContext } from './context.js';

export interface FormatUpgrade {
  /** 'lean': marked now; 'already': it was; 'refused': live workers do not read lean hashes (and not forced). */
  outcome: 'lean' | 'already' | 'refused';
  /** Live workers whose info lacks LEAN_READER (codec.ts): processes of a version before the mark. */
  olderWorkers: string[];
}

/** Mark the prefix lean, unless a live worker of an earlier version is registered in it and `force` is not set. */
export async function upgradeJobFormat(ctx: RedisContext, { now, force }: { now: number; force: boolean }): Promise<FormatUpgrade> {
  const [outcome, olderWorkers] = await ctx.run(formatUpgradeScript({ globalKeyBase: ctx.keys.globalKeyBase, now, force }));
  if (outcome !== 'refused') ctx.setFormat('lean');
  return { outcome, olderWorkers };
}

/** The format this store's adds write now: read (and an empty prefix marked lean) if not known yet. */
export async function currentJobFormat(ctx: RedisContext): Promise<'lean' | 'full'> {
  await ctx.knowFormat();
  return ctx.leanJobs ? 'lean' : 'full';
}

/** A prefix's format as stored: a mark this version does not know (a later version's) as it is. */
export type StoredJobFormat = 'lean' | 'full' | 'empty' | { unknownMark: string };

/**
 * The prefix's format as stored, for `fusion store info`: read only, where knowFormat marks an
 * empty prefix. 'empty': nothing written yet, marked lean at the first write. The keys tested are
 * jobFormat's (lua/lib/keys.lua): every job, schedule and worker passes through one of them first.
 */
export async function storedJobFormat(ctx: RedisContext): Promise<StoredJobFormat> {
  const { globalKeyBase, queueNames, allSchedules, idIndex } = ctx.keys;
  // The four share one hash tag, so the EXISTS runs on Cluster too.
  const [mark, used] = await Promise.all([
    ctx.client.get(`${globalKeyBase}:format`),
    ctx.client.exists(queueNames, allSchedules, `${globalKeyBase}:w`, idIndex),
  ]);
  if (mark !== null) return mark === 'lean' ? 'lean' : { unknownMark: mark };
  return used > 0 ? 'full' : 'empty';
}
