// The abort of a webhook attempt (cancel, job timeout, lease loss, shutdown), carried to its HTTP
// request without an AbortController per request. Reading ctx.signal makes one (the worker creates
// it lazily), and an AbortController plus undici's add/remove of its listener cost ~3-6 µs a
// request, a real share of a delivery. Most requests end in a few milliseconds, long before anyone
// could want them aborted, so each request gets a plain emitter-shaped signal (undici accepts one),
// and only requests still in flight after LINK_AFTER_MS are linked to ctx.signal by one sweep timer
// for the whole process. An attempt aborted earlier (its AbortController then comes out aborted
// already) has its request aborted at the next sweep: at most LINK_AFTER_MS + SWEEP_MS late. The
// worker settles the attempt itself at once in every case; only the socket is freed that much later.

/** Requests older than this are linked to their attempt's signal. */
export const LINK_AFTER_MS = 200;
const SWEEP_MS = 100;

/** The emitter-shaped signal undici takes (`once`/`removeListener` of 'abort', `aborted`, `reason`). */
export class RequestAbort {
  aborted = false;
  reason: unknown = undefined;
  private listener: (() => void) | null = null;
  /** ms since the epoch when the request started; the sweep links it once it is old enough. */
  readonly since: number;
  private unlink: (() => void) | null = null;

  constructor(private readonly attempt: { readonly signal: AbortSignal }) {
    this.since = Date.now();
  }

  on(_event: 'abort', fn: () => void): this {
    this.listener = fn;
    return this;
  }

  once(event: 'abort', fn: () => void): this {
    return this.on(event, fn);
  }

  addListener(event: 'abort', fn: () => void): this {
    return this.on(event, fn);
  }

  removeListener(_event: 'abort', fn: () => void): this {
    if (this.listener === fn) this.listener = null;
    return this;
  }

  off(event: 'abort', fn: () => void): this {
    return this.removeListener(event, fn);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const fn = this.listener;
    this.listener = null;
    fn?.();
  }

  /** Follow the attempt's signal from now on (the sweep calls this once for a long request). */
  link(): void {
    const signal = this.attempt.signal;
    if (signal.aborted) return this.abort(signal.reason);
    const onAbort = () => this.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.unlink = () => signal.removeEventListener('abort', onAbort);
  }

  /** The request is over: forget the link. */
  done(): void {
    this.listener = null;
    this.unlink?.();
    this.unlink = null;
  }
}

const inFlight = new Set<RequestAbort>();
let sweeper: NodeJS.Timeout | null = null;

function sweep(): void {
  const old = Date.now() - LINK_AFTER_MS;
  for (const r of inFlight) {
    if (r.since > old) continue;
    inFlight.delete(r);
    r.link();
  }
  if (inFlight.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

/** A signal for one request of `attempt` (a TaskContext: its `signal` is read only if the request lasts). */
export function requestAbort(attempt: { readonly signal: AbortSignal }): RequestAbort {
  const r = new RequestAbort(attempt);
  inFlight.add(r);
  if (!sweeper) {
    sweeper = setInterval(sweep, SWEEP_MS);
    sweeper.unref(); // never keeps a process alive
  }
  return r;
}

/** The request ended (answered, failed or aborted). */
export function requestDone(r: RequestAbort): void {
  inFlight.delete(r);
  r.done();
}
