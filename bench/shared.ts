// Helpers more than one bench uses.

/** The p-th percentile (0-100) of xs: the value at floor(p% of n) in sorted order. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Delete exactly the keys of one prefix (its slots `{p:...}`, `{p}` and `p:...`). ioredis loads only when called. */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url);
  try {
    for (const match of [`{${prefix}:*`, `{${prefix}}*`, `${prefix}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await client.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}
