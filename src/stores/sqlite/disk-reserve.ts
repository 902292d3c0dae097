// Room kept on the database's disk for the work already under way. A full disk refuses every
// SQLite write, a worker's heartbeats and outcomes too: leases lapse and their jobs run again once
// the disk has room. So the store keeps a file of its own next to the database (`<path>-reserve`,
// zeros written, so the blocks are taken) and deletes it at the first write that fails for a full
// disk (SQLITE_FULL). From then on the store refuses adds, claims and schedules' runs itself, so
// the freed room goes to heartbeats, outcomes, recovery and retention. Once the disk has room for
// the file twice over again (read at most once a second), the file is written again and adds
// resume. Processes sharing the database share the reserve: the first to hit a full disk frees it,
// and the others see its file gone within 100 ms.
import { closeSync, existsSync, fstatSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
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

export class DiskReserve {
  private inUse = false;
  private checkedAt = 0;

  constructor(private readonly file: string, private readonly bytes: number) {
    // A disk already too full to hold it starts in use.
    this.inUse = !this.write();
  }

  /**
   * The reserve is in use (freed here, or its file gone: another process sharing the database
   * freed it) and the disk has no room for it yet: new work waits. Looks at the disk at most every
   * GONE_CHECK_MS while not in use, CHECK_EVERY_MS while in use; else a clock read.
   */
  get full(): boolean {
    const now = performance.now();
    if (now - this.checkedAt < (this.inUse ? CHECK_EVERY_MS : GONE_CHECK_MS)) return this.inUse;
    this.checkedAt = now;
    if (!this.inUse) this.inUse = !existsSync(this.file);
    else if (freeBytes(dirname(this.file)) >= 2 * this.bytes && this.write()) this.inUse = false;
    return this.inUse;
  }

  /** A write failed for a full disk: free the room. True where this freed it now (the write may go again). */
  release(): boolean {
    if (this.inUse) return false;
    this.inUse = true;
    this.checkedAt = performance.now();
    try {
      unlinkSync(this.file);
      return true;
    } catch {
      return false; // another process sharing the database freed it first
    }
  }

  /** Write the file whole where it is missing or short; false where the disk has no room for it. */
  private write(): boolean {
    let fd: number | null = null;
    try {
      fd = openSync(this.file, 'a+');
      const zeros = Buffer.alloc(CHUNK);
      for (let size = fstatSync(fd).size; size < this.bytes; size += CHUNK) writeSync(fd, zeros, 0, Math.min(CHUNK, this.bytes - size));
      return true;
    } catch {
      return false;
    } finally {
      if (fd !== null) closeSync(fd);
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
