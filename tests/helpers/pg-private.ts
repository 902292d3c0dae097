// A private PostgreSQL server for tests that restart or crash it: initdb into a temp dir, started
// with pg_ctl on a free loopback port (socket in the temp dir), never the machine's shared server.
// PostgreSQL refuses to run as root: as root, its commands run as the `postgres` OS user (runuser).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

/** false when a private server can be made here; otherwise why not. CI=true makes a reason fatal. */
export async function privatePgSkip(): Promise<string | false> {
  let why: string | false = false;
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'pg_ctl'))) why = `PostgreSQL server binaries not found in ${PG_BIN} (set PG_BIN)`;
  else if (asRoot) {
    try {
      await run('runuser', ['-u', 'postgres', '--', 'true']);
    } catch (err) {
      why = `running as root and cannot run as the postgres OS user (${(err as Error).message.split('\n')[0]})`;
    }
  }
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(`${why}. CI=true requires the PostgreSQL restart tests.`);
  console.error(`\n${'!'.repeat(78)}\n!! SKIPPING POSTGRESQL RESTART TESTS: ${why}\n!! Install postgresql-15 (server) or point PG_BIN at its bin/ directory.\n${'!'.repeat(78)}\n`);
  return why;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivatePg {
  url: string;
  port: number;
  dir: string;
  /** pg_ctl restart -m fast|immediate, waiting until it accepts connections again. */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** The server down as a crash leaves it (pg_ctl stop -m immediate: no checkpoint, recovery from WAL on start). */
  crash(): Promise<void>;
  /** Start it again after crash(), waiting until it accepts connections. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PrivatePgOptions {
  /** fsync on (the default is off, see below): for tests that claim durability across a crash. */
  durable?: boolean;
  /** An empty directory of the caller's to keep it in (a small disk of its own); default a new temp dir. */
  dir?: string;
}

export async function startPrivatePg(o: PrivatePgOptions = {}): Promise<PrivatePg> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'fusion-pg-'));
  chmodSync(dir, 0o777); // the postgres OS user writes here when we run as root
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const port = await freePort();
  const pg = (bin: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]) : run(join(PG_BIN, bin), args);
  // fsync off: a server process crash (-m immediate) still recovers from WAL; only an OS crash would need it.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=${o.durable ? 'on' : 'off'} -c max_connections=50`;
  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  await pg('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start']);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    async restart(mode) {
      await pg('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-m', mode, '-w', '-t', '60', 'restart']);
    },
    async crash() {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async start() {
      await pg('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start']);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(o.dir ? data : dir, { recursive: true, force: true });
    },
  };
}
