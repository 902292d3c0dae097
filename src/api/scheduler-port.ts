// The part of the core Scheduler the API drives: the routes depend on this interface only, and the
// server is handed whichever Scheduler the process runs (or none: schedule routes then answer 503).
import type { Job, JobSpec } from '../core/job.js';
import type { ScheduleRecord } from '../core/store.js';

/** What a schedule fires on, and when its series starts and ends. */
export interface TriggerInput {
  cron?: string;
  rrule?: string;
  /** IANA zone the trigger is read in (default UTC). */
  timezone?: string;
  /** Epoch ms: no occurrence before (an RRULE's DTSTART). */
  startAt?: number;
  /** Epoch ms: no occurrence after. */
  endAt?: number;
  /** Stop after this many runs. */
  limit?: number;
}

export interface ScheduleInput extends TriggerInput {
  id?: string;
  /** The job each occurrence enqueues (runAt/delay/id are the scheduler's to set). */
  job: Omit<JobSpec, 'runAt' | 'delay' | 'id'>;
  paused?: boolean;
  description?: string;
}

export type SchedulePatch = Partial<Omit<ScheduleInput, 'id'>>;

export interface SchedulerLike {
  create(input: ScheduleInput): Promise<ScheduleRecord>;
  get(id: string): Promise<ScheduleRecord | null>;
  list(): Promise<ScheduleRecord[]>;
  update(id: string, patch: SchedulePatch): Promise<ScheduleRecord>;
  pause(id: string): Promise<ScheduleRecord>;
  resume(id: string): Promise<ScheduleRecord>;
  remove(id: string): Promise<boolean>;
  /** Fire one occurrence now; the series' next time is unchanged. */
  runNow(id: string): Promise<Job>;
  /** The next `count` occurrence times of a trigger (epoch ms), from `from` (default now). */
  preview(trigger: TriggerInput, count: number, from?: number): Promise<number[]> | number[];
}
