// Schedules, in the global slot. A run's jobs go through the global outbox: written by the advance
// script with the schedule's new version, delivered right after (outbox.ts).
import type { AdvanceSchedule, DueSchedules, RemoveSchedule, SaveSchedule, ScheduleRecord, ScheduleRef } from '../../core/store.js';
import { ScheduleConflict } from '../../core/store.js';
import { scheduleAdvanceScript, scheduleRemoveScript, scheduleUpsertScript } from './script-calls.js';
import { hashToSchedule } from './codec.js';
import type { RedisContext } from './context.js';
import type { Outbox } from './outbox.js';

export class Schedules {
  constructor(private readonly ctx: RedisContext, private readonly outbox: Outbox) {}

  private async read(ids: string[]): Promise<ScheduleRecord[]> {
    const hashes = await Promise.all(ids.map((id) => this.ctx.client.hgetall(this.ctx.keys.schedule(id))));
    const out: ScheduleRecord[] = [];
    ids.forEach((id, i) => {
      const flat = Object.entries(hashes[i]!).flat();
      if (flat.length) out.push(hashToSchedule(id, flat));
    });
    return out;
  }

  async saveSchedule({ schedule, now, expectedVersion, expectedCreatedAt }: SaveSchedule): Promise<ScheduleRecord> {
    // A first schedule on an empty prefix marks it lean before it makes the prefix hold something.
    await this.ctx.knowFormat();
    const flat = await this.ctx.run(scheduleUpsertScript({
      globalKeyBase: this.ctx.keys.globalKeyBase, id: schedule.id, specJson: JSON.stringify(schedule.spec ?? null),
      nextRunAt: schedule.nextRunAt ?? null, paused: schedule.paused, runCount: schedule.runCount, lastRunAt: schedule.lastRunAt, now, expectedVersion,
      expectedCreatedAt,
    }));
    if (flat[0] === '!conflict') throw new ScheduleConflict(schedule.id, expectedVersion!, Number(flat[1]));
    return hashToSchedule(schedule.id, flat);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    return (await this.read([id]))[0] ?? null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.read(await this.ctx.client.zrange(this.ctx.keys.allSchedules, '0', '-1'));
  }

  async removeSchedule({ id, expected }: RemoveSchedule): Promise<boolean> {
    return (await this.ctx.run(scheduleRemoveScript({ globalKeyBase: this.ctx.keys.globalKeyBase, id, expected }))) === 1;
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return this.read(await this.ctx.client.zrangebyscore(this.ctx.keys.dueSchedules, '-inf', String(now), 'LIMIT', 0, limit));
  }

  async nextScheduleAt(): Promise<number | null> {
    const first = await this.ctx.client.zrange(this.ctx.keys.dueSchedules, '0', '0', 'WITHSCORES');
    return first.length ? Number(first[1]) : null;
  }

  async advanceSchedule({ id, expectedVersion, expectedCreatedAt, next, jobs, now }: AdvanceSchedule): Promise<boolean> {
    const { keys } = this.ctx;
    const entry = jobs.length ? this.outbox.entry(jobs, now) : '';
    // The script names the outbox field after the run (the schedule's id, version and creation time),
    // so a redelivery of it adds nothing twice and another incarnation's run does not overwrite it.
    const field = await this.ctx.run(scheduleAdvanceScript({
      globalKeyBase: keys.globalKeyBase, id, expectedVersion, expectedCreatedAt, nextRunAt: next.nextRunAt ?? null, runCount: next.runCount,
      lastRunAt: next.lastRunAt ?? null, now, outboxEntry: entry,
    }));
    if (field === 0) return false;
    if (field) await this.outbox.afterWrite(keys.scheduleOutbox, field, entry);
    return true;
  }
}
