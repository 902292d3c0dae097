// Shared helpers for scheduler tests: format instants as wall times of a zone with Intl,
// independently of the scheduler's own zone code, so expectations read like the RFC's lists.
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const fmts = new Map<string, Intl.DateTimeFormat>();

/** 'YYYY-MM-DD HH:MM' (plus ':SS' when seconds are not zero) of instant t in zone tz. */
export function local(t: number, tz: string): string {
  let f = fmts.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    fmts.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${p.second === '00' ? '' : `:${p.second}`}`;
}

export const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());

export function tempStore(): { store: SqliteStore; path: string; cleanup(): Promise<void> } {
  const t = tempDir('fusion-sched-');
  const path = join(t.dir, 'fusion.db');
  const store = new SqliteStore(path);
  return {
    store,
    path,
    async cleanup() {
      await store.close();
      t.remove();
    },
  };
}
