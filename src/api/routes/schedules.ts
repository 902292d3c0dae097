// Schedule routes: /v1/schedules, and the schedule side of the legacy routes (/schedule/ with cron
// or rrule, /remind_me, /cancelJob/ and /jobInfo/ on a schedule id).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobSpec } from '../../core/job.js';
import type { ApiContext } from '../context.js';
import { apiError } from '../errors.js';

export interface LegacyTrigger {
  cron?: string;
  rrule?: string;
  repeat?: number;
  timezone?: string;
}

export interface LegacySchedules {
  fromLegacy(req: FastifyRequest, job: JobSpec, trigger: LegacyTrigger): Promise<{ id: string; nextRunAt: number | null }>;
  legacyInfo(id: string): Promise<Record<string, unknown> | null>;
  removeLegacy(id: string): Promise<boolean>;
}

export const schedulerUnavailable = () =>
  apiError(503, 'scheduler_unavailable', 'this server runs without a scheduler; cron and rrule schedules are not available', {});

export function scheduleRoutes(_app: FastifyInstance, ctx: ApiContext): LegacySchedules {
  return {
    async fromLegacy() {
      throw schedulerUnavailable();
    },
    async legacyInfo() {
      return ctx.scheduler ? null : null;
    },
    async removeLegacy() {
      return false;
    },
  };
}
