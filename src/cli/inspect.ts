// The terminal view: `fusion status | jobs | job | retry | cancel | promote | schedules`, against a
// running hub's API (--url, --key) or straight on a store (--store: the same API, served in-process
// to this command only, so both paths print the same thing). --json for scripts, --watch to refresh.
import { parseArgs } from 'node:util';

export const INSPECT_COMMANDS: ReadonlySet<string> = new Set(['status', 'jobs', 'job', 'retry', 'cancel', 'promote', 'schedules']);

export const INSPECT_HELP = `
Inspecting a hub (through its API, or straight on a store with --store):
  status                 every queue: counts per state, paused, oldest waiting; workers
  jobs --queue Q         jobs of a queue [--state failed] [--task T] [--limit 20] [--cursor C]
  job ID                 one job: state, attempts, error, payload (secrets masked)
  retry|cancel|promote ID
  schedules              schedules: trigger, next run, last run
  Options: --url URL (env FUSION_URL; default http://127.0.0.1:8002), --key KEY (env FUSION_API_KEY;
  prefer the env: arguments show in process lists), --store URL (instead of --url), --json,
  --watch [--interval S] (status, jobs, schedules: refresh in place)
`;

interface Call {
  (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

async function httpCaller(url: string, key: string | undefined): Promise<Call> {
  const base = url.replace(/\/+$/, '');
  const call = (async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let r: Response;
    try {
      r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(`cannot reach ${base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }) as Call;
  call.close = async () => undefined;
  return call;
}

/** The API served in-process over the given store, reached with inject: no port, no keys. */
async function storeCaller(store: string): Promise<Call> {
  const [{ Fusion }, { buildServer }] = await Promise.all([import('../fusion.js'), import('../api/server.js')]);
  const fusion = await Fusion.open({ store });
  const app = await buildServer({ fusion, processMetrics: false, groupCommit: false });
  const call = (async (method: string, path: string, body?: unknown) => {
    const r = await app.inject({ method: method as 'GET', url: path, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null };
  }) as Call;
  call.close = async () => {
    await app.close();
    await fusion.close(0);
  };
  return call;
}

async function must(call: Call, method: string, path: string, body?: unknown): Promise<any> {
  const r = await call(method, path, body);
  if (r.status >= 400) {
    const e = r.body?.error;
    throw new Error(e ? `${e.message} (${r.status} ${e.code})` : `HTTP ${r.status}`);
  }
  return r.body;
}

// ---- formatting ----

const STATES = ['queued', 'active', 'scheduled', 'completed', 'failed', 'cancelled'] as const;

export function table(head: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const ms = now - new Date(iso).getTime();
  const a = Math.abs(ms);
  const s = a < 60_000 ? `${Math.round(a / 1000)}s` : a < 3_600_000 ? `${Math.round(a / 60_000)}m` : a < 86_400_000 ? `${(a / 3_600_000).toFixed(1)}h` : `${Math.round(a / 86_400_000)}d`;
  return ms >= 0 ? `${s} ago` : `in ${s}`;
}

function age(iso: string | null, now = Date.now()): string {
  return iso ? ago(iso, now).replace(' ago', '') : '-';
}

function statusText(queues: any[], workers: any[]): string {
  const served = new Set(workers.flatMap((w) => w.queues as string[]));
  const rows = queues
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((q) => {
      const flags = [q.paused ? 'paused' : '', q.counts.queued > 0 && !q.paused && !served.has(q.name) ? 'NO WORKER' : '', q.rateLimit ? `limit ${q.rateLimit.max}/${q.rateLimit.windowMs}ms` : '']
        .filter(Boolean).join(', ');
      return [q.name, ...STATES.map((s) => String(q.counts[s] ?? 0)), age(q.oldestQueuedAt), flags];
    });
  const totals = STATES.map((s) => String(queues.reduce((n, q) => n + (q.counts[s] ?? 0), 0)));
  let out = table(['QUEUE', ...STATES.map((s) => s.toUpperCase()), 'OLDEST', 'FLAGS'], [...rows, ['TOTAL', ...totals, '', '']], new Set([1, 2, 3, 4, 5, 6, 7]));
  out += `${queues.length} queue${queues.length === 1 ? '' : 's'}, ${workers.length} worker${workers.length === 1 ? '' : 's'}\n`;
  if (workers.length) {
    out += '\n' + table(['WORKER', 'HOST', 'PID', 'QUEUES', 'RUNNING', 'HEARTBEAT'],
      workers.map((w) => [w.id, w.host, String(w.pid), w.queues.join(','), `${w.runningCount}/${w.concurrency}`, ago(w.lastHeartbeatAt)]), new Set([2, 4]));
  }
  return out;
}

function jobText(j: any): string {
  const lines = [
    `${j.id}  ${j.state.toUpperCase()}${j.cancelRequested ? ' (cancel requested)' : ''}`,
    `  queue ${j.queue}  task ${j.task}  priority ${j.priority}  attempts ${j.attempts}/${j.maxAttempts}`,
    `  created ${ago(j.createdAt)}  due ${ago(j.runAt)}  started ${ago(j.startedAt)}  ended ${ago(j.endedAt)}`,
  ];
  if (j.workerId) lines.push(`  worker ${j.workerId}`);
  if (j.scheduleId) lines.push(`  schedule ${j.scheduleId}`);
  if (j.progress !== null) lines.push(`  progress ${JSON.stringify(j.progress)}`);
  if (j.error) lines.push(`  error ${j.error.name ?? 'Error'}${j.error.code ? ` [${j.error.code}]` : ''}: ${j.error.message}${j.error.retryable ? '' : ' (not retryable)'}`);
  lines.push(`  payload ${JSON.stringify(j.payload)}`);
  if (j.result !== null) lines.push(`  result ${JSON.stringify(j.result)}`);
  for (const h of j.history) lines.push(`  attempt ${h.attempt}: ${h.outcome ?? 'running'} on ${h.workerId} ${ago(h.startedAt)}${h.error ? ` — ${h.error}` : ''}`);
  return lines.join('\n') + '\n';
}

function triggerText(t: any): string {
  if (t.cron) return `cron ${t.cron}${t.tz ? ` ${t.tz}` : ''}`;
  if (t.rrule) return `rrule ${t.rrule.replace(/\n/g, ' ')}${t.tz ? ` ${t.tz}` : ''}`;
  if (t.every !== undefined) return `every ${t.every}`;
  if (t.at !== undefined) return `at ${t.at}`;
  return JSON.stringify(t);
}

// ---- the commands ----

export async function runInspect(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' }, key: { type: 'string' }, store: { type: 'string' }, json: { type: 'boolean' },
      watch: { type: 'boolean' }, interval: { type: 'string' },
      queue: { type: 'string' }, state: { type: 'string' }, task: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
    },
  });
  const [command, id] = positionals as [string, string | undefined];
  if (['job', 'retry', 'cancel', 'promote'].includes(command) && !id) throw new Error(`usage: fusion ${command} JOB_ID`);
  if (command === 'jobs' && !values.queue) throw new Error('usage: fusion jobs --queue NAME [--state STATE] [--task TASK]');
  if (values.store && values.url) throw new Error('give --url or --store, not both');
  const call = values.store
    ? await storeCaller(values.store)
    : await httpCaller(values.url ?? process.env.FUSION_URL ?? 'http://127.0.0.1:8002', values.key ?? process.env.FUSION_API_KEY);
  const json = (v: unknown) => out(JSON.stringify(v, null, 2) + '\n');
  try {
    const once = async (): Promise<string | null> => {
      switch (command) {
        case 'status': {
          const [q, w] = await Promise.all([must(call, 'GET', '/v1/queues'), must(call, 'GET', '/v1/workers')]);
          if (values.json) return json({ queues: q.items, workers: w.items }), null;
          return statusText(q.items, w.items);
        }
        case 'jobs': {
          const qs = new URLSearchParams({ queue: values.queue!, state: values.state ?? 'queued', limit: values.limit ?? '20' });
          if (values.task) qs.set('task', values.task);
          if (values.cursor) qs.set('cursor', values.cursor);
          const page = await must(call, 'GET', `/v1/jobs?${qs}`);
          if (values.json) return json(page), null;
          const rows = page.items.map((j: any) => [j.id, j.task, String(j.priority), `${j.attempts}/${j.maxAttempts}`, ago(j.endedAt ?? (j.state === 'scheduled' ? j.runAt : j.createdAt)), (j.error?.message ?? '').slice(0, 60)]);
          return table(['ID', 'TASK', 'PRIO', 'ATTEMPTS', 'WHEN', 'ERROR'], rows, new Set([2, 3])) +
            `${page.items.length} ${values.state ?? 'queued'} job${page.items.length === 1 ? '' : 's'} shown${page.nextCursor ? `; more: --cursor ${page.nextCursor}` : ''}\n`;
        }
        case 'job': {
          const j = await must(call, 'GET', `/v1/jobs/${encodeURIComponent(id!)}`);
          if (values.json) return json(j), null;
          return jobText(j);
        }
        case 'retry':
        case 'cancel':
        case 'promote': {
          const j = await must(call, 'POST', `/v1/jobs/${encodeURIComponent(id!)}/${command}`);
          if (values.json) return json(j), null;
          return `${j.id}: ${j.state}${j.cancelRequested && j.state === 'active' ? ' (cancel requested: its worker stops it)' : ''}\n`;
        }
        case 'schedules': {
          const s = await must(call, 'GET', '/v1/schedules');
          if (values.json) return json(s), null;
          const rows = s.items.map((x: any) => [x.id, triggerText(x.trigger), x.template.task, x.paused ? 'paused' : x.nextRunAt ? 'active' : 'ended', ago(x.nextRunAt), ago(x.lastRunAt), String(x.runCount)]);
          return table(['ID', 'TRIGGER', 'TASK', 'STATE', 'NEXT', 'LAST', 'RUNS'], rows, new Set([6]));
        }
        default:
          throw new Error(`unknown command ${command}`);
      }
    };
    if (!values.watch) {
      const text = await once();
      if (text !== null) out(text);
      return 0;
    }
    if (!['status', 'jobs', 'schedules'].includes(command)) throw new Error('--watch works with status, jobs and schedules');
    const every = Math.max(0.2, Number(values.interval ?? 2)) * 1000;
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    while (!stop) {
      const text = await once().catch((e: Error) => `error: ${e.message}\n`);
      // Home, draw, clear what is left of the last frame: no flicker.
      if (text !== null) out(`\x1b[H${text.replace(/\n/g, '\x1b[K\n')}\x1b[J${new Date().toLocaleTimeString()}  (every ${every / 1000}s, Ctrl-C to stop)\x1b[K`);
      await new Promise((r) => setTimeout(r, every));
    }
    out('\n');
    return 0;
  } finally {
    await call.close();
  }
}
