// A loopback HTTP server playing a webhook receiver: it records every request exactly as received
// and answers as the test says.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the whole request had arrived (Date.now()). */
  at: number;
}

export type Reply = (hit: Hit, res: ServerResponse, n: number) => void;

export interface Receiver {
  base: string;
  port: number;
  hits: Hit[];
  /** Resolves with the n-th request (1-based), now or when it arrives. */
  hit(n: number): Promise<Hit>;
  close(): Promise<void>;
}

export async function receiver(reply: Reply = (_h, res) => res.writeHead(200).end('ok'), host = '127.0.0.1'): Promise<Receiver> {
  const hits: Hit[] = [];
  const waiters: { n: number; resolve(h: Hit): void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: Hit = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      hits.push(hit);
      for (const w of waiters.filter((w) => w.n === hits.length)) w.resolve(hit);
      reply(hit, res, hits.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    hits,
    hit: (n) => (hits.length >= n ? Promise.resolve(hits[n - 1]!) : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
