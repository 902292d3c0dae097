// A script call is written by the store's own toWritable (runner.ts: one flat string, where
// ioredis's grows a rope the socket then flattens): the bytes on the wire must be those ioredis
// writes for the same arguments, whatever they hold.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'ioredis';
import { scriptCommand } from '../../src/stores/redis/runner.js';

const wire = (writable: string | Buffer): Buffer => (typeof writable === 'string' ? Buffer.from(writable, 'utf8') : writable);

describe('Redis script command', () => {
  it("writes the bytes ioredis's Command writes", () => {
    const argSets: string[][] = [
      [],
      ['add-lean', '1', '{p:q}', '?p:events', '1764876000000', 'id-1', '{"task":"t","payload":{"i":1}}'],
      ['', 'héllo ✓ 😀', 'a\r\nb', '$3\r\n', '\ud800', 'x'.repeat(100_000), '12345678901234567890'],
      Array.from({ length: 5000 }, (_, i) => (i % 3 ? `job-${i}` : `{"payload":"ü${i}"}`)),
    ];
    for (const name of ['fcall', 'evalsha', 'eval']) {
      for (const args of argSets) {
        const ours = wire(scriptCommand(name, [...args]).toWritable({}));
        const theirs = wire(new Command(name, [...args], { replyEncoding: 'utf8' }).toWritable({}));
        assert.ok(ours.equals(theirs), `${name} with ${args.length} arguments`);
      }
    }
  });
});
