// A viewer process for bench/events.ts: opens N SSE connections to /v1/events, reads everything,
// and exits once each saw `expect` job.completed events of `queue` (or after 15 s without news),
// printing what it received as one JSON line. Runs apart from the server so its parsing is not
// charged to the server's throughput.
import { request } from 'node:http';

const [url, nArg, expectArg, queue] = process.argv.slice(2) as [string, string, string, string];
const n = Number(nArg);
const expect = Number(expectArg);

interface Viewer { events: number; completed: number; resets: number; bytes: number; done: boolean }
const viewers: Viewer[] = [];
let ready = 0;
let lastNews = Date.now();

function finish(): void {
  process.stdout.write(`STATS ${JSON.stringify(viewers)}\n`);
  process.exit(0);
}

for (let i = 0; i < n; i++) {
  const v: Viewer = { events: 0, completed: 0, resets: 0, bytes: 0, done: false };
  viewers.push(v);
  const req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    let buf = '';
    let sawReady = false;
    res.on('data', (chunk: string) => {
      v.bytes += chunk.length;
      lastNews = Date.now();
      buf += chunk;
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        if (block.includes('event: ready')) {
          if (!sawReady && ++ready === n) process.stdout.write('READY\n');
          sawReady = true;
          continue;
        }
        if (block.includes('event: reset')) {
          v.resets++;
          continue;
        }
        const d = block.indexOf('data: ');
        if (d < 0) continue;
        v.events++;
        const e = JSON.parse(block.slice(d + 6)) as { type: string; queue?: string };
        if (e.type === 'job.completed' && e.queue === queue && ++v.completed >= expect) v.done = true;
      }
      if (viewers.every((x) => x.done)) finish();
    });
  });
  req.end();
}
setInterval(() => {
  if (Date.now() - lastNews > 15_000) finish();
}, 500).unref();
setTimeout(() => undefined, 1 << 30);
