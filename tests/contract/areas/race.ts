import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../../src/core/store.js';
import { openStore } from '../../../src/stores/index.js';
import { T0, job, useStore, type StoreFactory, type StoreHarness } from '../harness.js';

const JOBS = 200;
const CLAIMER = fileURLToPath(new URL('../fixtures/claimer.js', import.meta.url));

/** Claim from queue "race" until it is empty; the ids got, in order. */
async function drain(store: Store, workerId: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const { jobs } = await store.claimJobs({ queues: ['race'], workerId, limit: 4, leaseMs: 600_000, now: T0 });
    if (jobs.length === 0) return ids;
    for (const j of jobs) ids.push(j.id);
  }
}

/** A claimer process on the same data: resolves `ready` once its store is open, `ids` once it is done. */
function child(h: StoreHarness, workerId: string) {
  const p = spawn(process.execPath, [CLAIMER, h.url, JSON.stringify(h.opening ?? {}), workerId, String(T0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout! });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    p.once('exit', (code) => reject(new Error(`claimer ${workerId} exited with ${code}`)));
  });
  const ready = next();
  return {
    ready,
    go(): Promise<string[]> {
      const done = next();
      p.stdin!.write('go\n');
      return done.then((line) => JSON.parse(line) as string[]);
    },
    kill: () => p.kill(),
  };
}

function assertEachOnce(got: string[][]): void {
  const all = got.flat();
  assert.equal(all.length, JOBS, `claims per claimer: ${got.map((g) => g.length).join(', ')}`);
  assert.equal(new Set(all).size, JOBS, 'no job was claimed twice');
}

/** Claimers on separate connections (and processes) race for one queue: every job is claimed exactly once. */
export function raceArea(make: StoreFactory): void {
  describe('claimers on separate connections', () => {
    let s!: Store;
    let h!: StoreHarness;
    useStore(make, (store, harness) => ((s = store), (h = harness)));
    const fill = () => s.addJobs({ jobs: Array.from({ length: JOBS }, (_, i) => job({ id: `r${i}`, queue: 'race' })), now: T0 });

    it('two store instances on the same data never claim one job twice', async () => {
      await fill();
      const other = await openStore(h.url, h.opening);
      try {
        const got = await Promise.all([drain(s, 'a'), drain(other, 'b'), drain(s, 'c'), drain(other, 'd')]);
        assertEachOnce(got);
        assert.ok(got[0]!.length + got[2]!.length > 0 && got[1]!.length + got[3]!.length > 0, 'both instances claimed');
      } finally {
        await other.close();
      }
    });

    it('two claimer processes and this one never claim one job twice', async () => {
      await fill();
      const children = [child(h, 'p1'), child(h, 'p2')];
      try {
        await Promise.all(children.map((c) => c.ready));
        const got = await Promise.all([...children.map((c) => c.go()), drain(s, 'here')]);
        assertEachOnce(got);
      } finally {
        for (const c of children) c.kill();
      }
    });
  });
}
