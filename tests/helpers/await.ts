// Waiting on events, bounded: a test fails with a clear message instead of hanging.
import type { ChildProcess } from 'node:child_process';

export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * Bounded polling, only for conditions no event announces (e.g. another process's progress).
 * `what` may be a function, asked at the timeout, so the message tells what was seen then.
 */
export async function until(
  cond: () => Promise<boolean> | boolean, ms: number, what: string | (() => Promise<string> | string), everyMs = 20,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/**
 * A forked process's first IPC message (its "ready"). A process that exits first fails the wait at
 * once, with its exit code or signal; `ms` bounds the wait where given.
 */
export function childReady(child: ChildProcess, what: string, ms?: number): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
    const exited = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`${what} exited before it was ready (${code ?? signal})`));
    child.once('exit', exited);
    child.once('message', () => {
      child.off('exit', exited);
      resolve();
    });
  });
  return ms === undefined ? ready : within(ready, ms, `${what} ready`);
}
