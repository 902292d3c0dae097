// Loopback helpers for tests that start real servers or CLI processes.
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The compiled CLI entry, as `npx fusion` runs it. */
export const CLI = join(process.cwd(), 'dist/src/cli/main.js');

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
