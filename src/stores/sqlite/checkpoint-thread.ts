// The body of the checkpointer's thread (checkpointer.ts): its own connection to the store's file,
// a PASSIVE checkpoint every `everyMs`, until the store asks it to stop. PASSIVE never waits for
// readers or writers, and a checkpoint by another connection may run while the store commits: the
// store's thread appends to the WAL while this one copies what was committed into the database file.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, everyMs } = workerData as { path: string; everyMs: number };
const db = new Database(path, { fileMustExist: true });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    // Busy (another process's checkpoint): the next tick, or a commit at the store's cap, does it.
  }
}, everyMs);
parentPort!.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
