// The part of the core Scheduler the API drives. The server is handed a Scheduler (by default the
// Fusion's own); with `scheduler: null` the schedule routes answer 503.
import type { Scheduler } from '../core/scheduler.js';

export type SchedulerLike = Pick<
  Scheduler,
  'create' | 'get' | 'list' | 'update' | 'pause' | 'resume' | 'remove' | 'runNow' | 'preview' | 'previewSchedule'
>;
