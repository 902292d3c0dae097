// An earlier version of Fusion, built from this repository's history for the rolling upgrade test:
// its source at a commit (`git archive`), this checkout's node_modules, and its own tsc build of
// src/. Built once per machine into the temp directory (about 20 s) and reused after.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The version a rolling upgrade starts from (2026-12-02, 17:54 UTC): the last landed one whose Redis
 * readers need every job hash field (a9e1a0b taught them defaults; lean hashes came the day after),
 * so the upgrade crosses the format mark and `fusion store upgrade`, PostgreSQL migrations 010 and
 * 011, the SQLite disk reserve, the shared store clock and idle workers' registrations.
 */
export const UPGRADE_FROM = 'a85650d6299dd008d2315b32b734406e608f0e27';

export interface BuiltVersion {
  commit: string;
  /** Its `fusion` CLI entry. */
  cli: string;
  /** Its library entry (the module that exports `Fusion`). */
  fusionModule: string;
}

/** false when this clone holds the commit, else why the test cannot run (a shallow clone, no .git). */
export async function versionSkip(commit: string): Promise<string | false> {
  try {
    await run('git', ['cat-file', '-e', `${commit}^{commit}`]);
    return false;
  } catch {
    return `this clone does not hold commit ${commit.slice(0, 12)} (a shallow clone, or a copy without .git): the rolling upgrade test needs that version's source`;
  }
}

function dependencies(packageJson: string): string {
  const p = JSON.parse(packageJson) as { dependencies?: object };
  return JSON.stringify(p.dependencies ?? {});
}

/**
 * The build borrows this checkout's node_modules: refused when the commit depends on other
 * packages, and linked again on every use (a build left by another checkout, since deleted or
 * holding other versions, would otherwise be used as it is).
 */
function borrowModules(commit: string, dir: string): void {
  if (dependencies(readFileSync(join(dir, 'package.json'), 'utf8')) !== dependencies(readFileSync('package.json', 'utf8'))) {
    throw new Error(`commit ${commit.slice(0, 12)} depends on other packages than this checkout: its build cannot borrow node_modules`);
  }
  const link = join(dir, 'node_modules');
  const ours = join(process.cwd(), 'node_modules');
  let current: string | null = null;
  try {
    current = readlinkSync(link);
  } catch {
    /* not there yet */
  }
  if (current === ours) return;
  rmSync(link, { force: true });
  symlinkSync(ours, link, 'dir');
}

/** The version at `commit`, built (or found built) under the temp directory. */
export async function buildVersion(commit: string): Promise<BuiltVersion> {
  const dir = join(tmpdir(), `fusion-version-${commit.slice(0, 12)}`);
  const built: BuiltVersion = { commit, cli: join(dir, 'dist/src/cli/main.js'), fusionModule: join(dir, 'dist/src/fusion.js') };
  if (existsSync(built.fusionModule)) {
    borrowModules(commit, dir);
    return built;
  }
  // Built beside, then renamed into place: a build cut off half way is never taken for a whole one.
  const work = `${dir}.build-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    await run('sh', ['-c', `git archive ${commit} | tar -x -C '${work}'`]);
    borrowModules(commit, work);
    writeFileSync(join(work, 'tsconfig.src.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src'] }));
    await run(process.execPath, [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', join(work, 'tsconfig.src.json')]);
    try {
      renameSync(work, dir);
    } catch (err) {
      // Another run built it meanwhile: use theirs.
      if (!existsSync(built.fusionModule)) throw err;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return built;
}
