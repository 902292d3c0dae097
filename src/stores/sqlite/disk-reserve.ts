// Room kept on the database's disk for the work already under way. A full disk refuses every
// SQLite write, a worker's heartbeats and outcomes too: leases lapse and their jobs run again once
// the disk has room. So the store keeps a file of its own next to the database (`<path>-reserve`,
// written in full: bytes that no file system compresses away) and deletes it at the first write of
// its own that fails for a full disk (SQLITE_FULL). From then on the store refuses new work itself
// (adds, claims, promotions, schedules' runs), so the freed room goes to heartbeats, outcomes,
// recovery and retention. Once the file is back at its size (another process wrote it) or the disk
// has room for it twice over (looked at once a second), new work resumes. Processes sharing the
// database share the file: the first to meet a full disk frees it, the others see it gone within
// 100 ms. A disk without room for the file at open runs without it until it has; a file that cannot
// be written for another reason (permissions, a read-only disk) turns the reserve off.
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { dirname } from 'node:path';

const CHECK_EVERY_MS = 1000;
const GONE_CHECK_MS = 100;
const CHUNK = 1 << 20;

/** What the store throws for work it refuses while the reserve is in use: a full disk, as SQLite says it. */
export class DiskFullError extends Error {
  readonly code = 'SQLITE_FULL';
  constructor() {
    super('database or disk is full: the room kept for running jobs is in use, so new work waits until the disk has room');
    this.name = 'DiskFullError';
  }
}

/**
 * kept: the file is on disk at its size. freed: it was freed for work under way (here or by another
 * process): new work waits. missing: no room to write it yet (new work goes on). off: it cannot be
 * kept here at all.
 */
type ReserveState = 'kept' | 'freed' | 'missing' | 'off';

export class DiskReserve {
  private state: ReserveState;
  private checkedAt = performance.now();

  constructor(private readonly file: string, private readonly bytes: number) {
    this.state = this.keep();
  }

  /** New work waits: the reserve was freed and is not back. Costs a clock read; looks at the disk at most every 100 ms. */
  get full(): boolean {
    const state = this.state;
    if (state === 'off') return false;
    const now = performance.now();
    if (now - this.checkedAt < (state === 'kept' ? GONE_CHECK_MS : CHECK_EVERY_MS)) return state === 'freed';
    this.checkedAt = now;
    if (state === 'kept') {
      if (this.size() < this.bytes) this.state = 'freed';
    } else {
      const kept = this.keep();
      if (kept === 'kept' || kept === 'off') this.state = kept;
    }
    return this.state === 'freed';
  }

  /** A write of ours failed for a full disk: free the room. True where this freed it now (the write may go again). */
  release(): boolean {
    if (this.state === 'off') return false;
    const had = this.state === 'kept';
    this.state = 'freed';
    this.checkedAt = performance.now();
    if (!had) return false;
    try {
      unlinkSync(this.file);
      return true;
    } catch {
      return false; // another process sharing the database freed it first
    }
  }

  /**
   * The file at its size: kept already (written by any process), or written now where the disk has
   * room for it twice over. A write the disk runs out of room for is undone.
   */
  private keep(): ReserveState {
    const size = this.size();
    if (size >= this.bytes) return 'kept';
    const have = Math.max(size, 0);
    if (freeBytes(dirname(this.file)) < 2 * (this.bytes - have)) return 'missing';
    let fd: number | null = null;
    try {
      // A new file exclusively (two processes opening at once write one); one cut short, from where it ends.
      fd = openSync(this.file, size < 0 ? 'wx' : 'r+');
      const chunk = randomFillSync(Buffer.alloc(CHUNK));
      for (let at = have; at < this.bytes;) at += writeSync(fd, chunk, 0, Math.min(CHUNK, this.bytes - at), at);
      return 'kept';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another process is writing it now: taken as kept (the 100 ms look sees it if not).
      if (code === 'EEXIST') return 'kept';
      // It cannot be kept here at all; anything else (no room, a file another process deleted
      // meanwhile, no descriptors left) may pass, and it is tried again a second later.
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'EISDIR') return 'off';
      if (fd !== null) {
        closeSync(fd);
        fd = null;
        try {
          unlinkSync(this.file);
        } catch {
          // gone already
        }
      }
      return 'missing';
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** The file's size; -1 where there is none. */
  private size(): number {
    try {
      return statSync(this.file).size;
    } catch {
      return -1;
    }
  }
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
