// WAL checkpoints off the event loop. A checkpoint copies the pages committed since the last one into
// the database file and syncs it. Done by the store's own connection, inside whichever commit
// crossed the WAL's cap or from a timer, it held the event loop for the copy and its fsyncs. A
// thread with its own connection does it (checkpoint-thread.ts) while the store goes on committing;
// the store's connection keeps its cap only as the fallback for a thread that cannot keep up or did
// not start. Sequential lone adds, five alternating pairs: 25.3-32.2k/s before, 31.9-37.5k/s with
// the thread (1.07-1.28x); batches of 1,000 and the HTTP route's CPU per request within their noise.
import { Worker } from 'node:worker_threads';

export class Checkpointer {
  private readonly thread: Worker;
  private readonly exited: Promise<unknown>;

  constructor(path: string, everyMs: number) {
    this.thread = new Worker(new URL('./checkpoint-thread.js', import.meta.url), { workerData: { path, everyMs } });
    this.exited = new Promise((resolve) => this.thread.once('exit', resolve));
    // A thread that fails (it could not open the file) leaves checkpoints to the store's commits.
    this.thread.on('error', () => {});
    // The thread never keeps a process alive: exiting mid-checkpoint is safe (SQLite's own rule).
    this.thread.unref();
  }

  /** Stop the thread and close its connection (before the store's, so the last close cleans up the WAL). */
  async stop(): Promise<void> {
    this.thread.ref(); // the wait for its exit keeps the process alive until then
    this.thread.postMessage('stop');
    await this.exited;
  }
}
