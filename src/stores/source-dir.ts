// Data files a store reads from its source tree (PostgreSQL migrations, Redis Lua scripts). tsc
// copies only its own output to dist/, so a module finds them beside itself when run from src/, or
// back in src/ when run from dist/src/. Reading them there needs no build step of its own: a plain
// `tsc` (which every npm script runs) stays the whole build, and nothing generated can go stale.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The first of `candidates` (paths relative to the module at `moduleUrl`) that exists. */
export function sourceDir(moduleUrl: string, candidates: string[], what: string): string {
  for (const rel of candidates) {
    const dir = fileURLToPath(new URL(rel, moduleUrl));
    if (existsSync(dir)) return dir;
  }
  throw new Error(`${what} not found: ${candidates.at(-1)!.replace(/^(\.\.\/)+/, '')} is missing from this install`);
}
