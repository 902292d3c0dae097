// A small Server-Sent Events client over node:http for tests: records every frame, lets a test wait
// for the one it expects (bounded), and can pause reading to play a slow viewer.
import { request, type IncomingMessage } from 'node:http';

export interface SseFrame {
  event: string;
  id: string | null;
  data: any;
}

export class SseClient {
  readonly frames: SseFrame[] = [];
  comments = 0;
  bytes = 0;
  private buf = '';
  private waiters: (() => void)[] = [];
  ended = false;

  private constructor(readonly res: IncomingMessage, private readonly destroy: () => void) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.bytes += chunk.length;
      this.buf += chunk;
      let i: number;
      while ((i = this.buf.indexOf('\n\n')) >= 0) {
        const block = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        this.parse(block);
      }
      this.notify();
    });
    res.on('end', () => {
      this.ended = true;
      this.notify();
    });
    res.on('error', () => undefined);
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new SseClient(res, () => req.destroy())));
      req.on('error', reject);
      req.end();
    });
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    let comment = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comment = true;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) {
      if (comment) this.comments++;
      return;
    }
    this.frames.push({ event, id, data: JSON.parse(data.join('\n')) });
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Data frames of the default event type (the events themselves). */
  get events(): any[] {
    return this.frames.filter((f) => f.event === 'message').map((f) => f.data);
  }

  get lastId(): string | null {
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.id) return this.frames[i]!.id;
    return null;
  }

  /** Resolves once `cond` holds over what was received; fails after `ms`. */
  async until(cond: (c: SseClient) => boolean, ms = 10_000, what = 'an SSE condition'): Promise<void> {
    const end = Date.now() + ms;
    while (!cond(this)) {
      if (this.ended) throw new Error(`stream ended before ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  close(): void {
    this.destroy();
  }
}
