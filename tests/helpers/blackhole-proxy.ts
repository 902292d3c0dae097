// A TCP proxy on loopback in front of a real server, which can make the connections open through it
// go silent: bytes stop passing either way and neither side sees a close, as when a NAT forgets a
// mapping, a firewall starts dropping, or a failover moves the server's address. Connections made
// afterwards pass again, as they would reach the server's new home.
import { EventEmitter, once } from 'node:events';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  silent: boolean;
  /** The first line of the last chunk the client sent (an HTTP connection's latest request line, say). */
  lastLine: string;
}

export class BlackholeProxy extends EventEmitter {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  /** Connections accepted so far. */
  accepted = 0;
  /** Connections accepted while this is set are silent from the start (a path lost mid-handshake). */
  silenceNew = false;
  port = 0;

  constructor(private targetPort: number, private readonly targetHost = '127.0.0.1') {
    super();
  }

  /** Connections made from now on go to this port (a failover that moved the server's address, as a Sentinel-managed address would). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Connections open through the proxy now that still pass bytes. */
  get live(): number {
    let n = 0;
    for (const pair of this.pairs) if (!pair.silent) n++;
    return n;
  }

  /** Every connection open now (or those whose client's last line `which` picks) goes silent for good; returns how many did. */
  blackhole(which?: (lastLine: string) => boolean): number {
    let n = 0;
    for (const pair of this.pairs) {
      if (which && !which(pair.lastLine)) continue;
      if (!pair.silent) n++;
      pair.silent = true;
    }
    return n;
  }

  /** Close every connection open now, both ways (a server that went away); new ones pass. */
  dropAll(): number {
    const n = this.pairs.size;
    for (const pair of [...this.pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    return n;
  }

  /** Resolves once `count` connections in all have been accepted. */
  async accepting(count: number): Promise<void> {
    while (this.accepted < count) await once(this, 'accepted');
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }

  private accept(client: Socket): void {
    this.accepted++;
    this.emit('accepted');
    const upstream = connectTcp(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream, silent: this.silenceNew, lastLine: '' };
    this.pairs.add(pair);
    // A silent pair drops what it reads, so neither kernel buffer fills and no side is told anything.
    client.on('data', (chunk: Buffer) => {
      pair.lastLine = chunk.toString('latin1', 0, Math.min(chunk.length, 200)).split('\r\n', 1)[0]!;
      return pair.silent || upstream.write(chunk);
    });
    upstream.on('data', (chunk) => pair.silent || client.write(chunk));
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A close passes only while the pair is not silent: a blackholed path carries no FIN or RST (the
    // other side's socket stays open until close()).
    client.on('close', () => pair.silent || end());
    upstream.on('close', () => pair.silent || end());
    client.on('error', () => {});
    upstream.on('error', () => {});
  }
}

/** A started proxy in front of the server of `url` (its host, its port or `defaultPort`). */
export async function proxyTo(url: string, defaultPort: number): Promise<BlackholeProxy> {
  const target = new URL(url);
  const proxy = new BlackholeProxy(Number(target.port || defaultPort), target.hostname);
  await proxy.start();
  return proxy;
}
