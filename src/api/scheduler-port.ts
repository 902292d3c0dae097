// The part of the core Scheduler the API drives. Kept as an interface so the API can be wired to
// whichever Scheduler instance the process runs (or none: schedule routes then answer 503).
export type SchedulerLike = Record<string, unknown>;
