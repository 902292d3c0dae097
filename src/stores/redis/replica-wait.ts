// Adds that wait for replicas (`?waitReplicas=`): a script is answered only once that many replicas
// hold what it wrote. Redis's WAIT counts the writes of the connection it runs on (since Redis 7.2
// only those that reached the replication stream), so the proof is a WAIT written on the socket the
// script was written on, after it, each written once: a call sent again (after a reconnect, a MOVED
// or an ASK) or one that wrote nothing (an add whose ids all exist) proves nothing, and a check
// write is made and waited for instead, on the socket the script's answer came on. WAIT holds up
// every call behind it on its connection, so such scripts get a connection of their own, and the
// scripts written while a WAIT is out share the next one rather than each waiting behind the others'.
import { randomBytes } from 'node:crypto';
import { Cluster, Command, type Redis } from 'ioredis';
import { FusionError } from '../../core/errors.js';
import type { RedisClient, ReplicaWait } from './connect.js';

/** A command that counts how often it was written, and remembers the socket it was last written on. */
export class CountedCommand extends Command {
  writes = 0;
  socket: object | null = null;

  protected counted(socket: object): void {
    this.writes++;
    this.socket = socket;
  }

  override toWritable(socket: object): string | Buffer {
    this.counted(socket);
    return super.toWritable(socket);
  }

  /** The socket it was written on, if it was written exactly once. */
  get onlySocket(): object | null {
    return this.writes === 1 ? this.socket : null;
  }
}

/**
 * An add stored on the master whose replicas did not all confirm it in time: a failover before they
 * catch up may lose it, and a retry with the same id finds it. `answer`: what the add script answered.
 */
export class NotReplicatedError extends FusionError {
  constructor(readonly answer: unknown, wait: ReplicaWait, confirmed: number) {
    super('not_replicated', `the job store took the job, but ${confirmed} of ${wait.replicas} replica(s) confirmed it within ${wait.timeoutMs} ms; retry with the same id or Idempotency-Key`,
      { replicas: wait.replicas, confirmed, timeoutMs: wait.timeoutMs }, 503);
  }
}

/** How many check writes a script whose own WAIT proved nothing gets before it fails as not replicated. */
const CHECKS = 2;

interface Waited {
  confirmed: number;
  command: CountedCommand;
}

/** A connection's WAITs: the one out, and the one the calls written meanwhile will share. */
interface Round {
  out: Promise<Waited | null> | null;
  next: Promise<Waited | null> | null;
}

export class ReplicaWaits {
  private readonly rounds = new WeakMap<Redis, Round>();

  constructor(private readonly client: RedisClient, private readonly wait: ReplicaWait) {}

  /**
   * `answer` (of `script`, sent through the client in this tick) once the replicas hold what it
   * wrote. `wrote`: whether the answer says the script wrote something. `checkKey`: a key in the
   * script's slot for a check write.
   */
  async confirmed<T>(script: CountedCommand, answer: Promise<T>, wrote: (value: T) => boolean, checkKey: string): Promise<T> {
    const connection = this.connectionFor(script);
    const waiting = connection ? this.waitAfter(connection) : Promise.resolve(null);
    const value = await answer;
    const waited = await waiting;
    // Proof either way: the replicas' count for a WAIT behind the script's write on its socket.
    let proof = waited && wrote(value) && script.onlySocket !== null && script.onlySocket === waited.command.onlySocket ? waited.confirmed : null;
    for (let check = 0; proof === null && check < CHECKS; check++) proof = await this.checkWrite(script, checkKey);
    if (proof !== null && proof >= this.wait.replicas) return value;
    throw new NotReplicatedError(value, this.wait, proof ?? 0);
  }

  /**
   * A write of a fresh key in the script's slot and a WAIT behind it, on the connection the script's
   * answer came on (the socket it was last written on): the replicas' count for all that server
   * holds, the script's writes included; null where it proves nothing (that socket is gone, as after
   * a reconnect that may have reached another server; the write refused; a call written twice). A
   * fresh key, so that during a slot migration the node the slot is leaving refuses it (ASK) rather
   * than proving its own copy; it expires, should its DEL not run.
   */
  private async checkWrite(script: CountedCommand, keyBase: string): Promise<number | null> {
    const connection = this.connectionOn(script.socket);
    if (!connection) return null;
    const key = `${keyBase}:${randomBytes(6).toString('hex')}`;
    const set = new CountedCommand('set', [key, '1', 'PX', '60000'], { replyEncoding: 'utf8' });
    const del = new CountedCommand('del', [key], { replyEncoding: 'utf8' });
    const wrote = Promise.all([connection.sendCommand(set), connection.sendCommand(del)]).then(() => true, () => false);
    const waited = await this.waitAfter(connection);
    if (!(await wrote) || !waited) return null;
    const socket = script.socket;
    return set.onlySocket === socket && del.onlySocket === socket && waited.command.onlySocket === socket ? waited.confirmed : null;
  }

  /** A WAIT written after what this connection was sent so far: now, or once the one out answers. */
  private waitAfter(connection: Redis): Promise<Waited | null> {
    let round = this.rounds.get(connection);
    if (!round) this.rounds.set(connection, (round = { out: null, next: null }));
    if (round.next) return round.next;
    const out = round.out;
    if (!out) return this.sendWait(connection, round);
    const r = round;
    r.next = out.then(() => {
      r.next = null;
      return this.sendWait(connection, r);
    });
    return r.next;
  }

  private sendWait(connection: Redis, round: Round): Promise<Waited | null> {
    const command = new CountedCommand('wait', [this.wait.replicas, this.wait.timeoutMs], { replyEncoding: 'utf8' });
    const out = (connection.sendCommand(command) as Promise<number | string>).then(
      (count) => ({ confirmed: Number(count), command }),
      () => null, // the connection was lost: nothing proven
    );
    round.out = out;
    void out.then(() => {
      if (round.out === out) round.out = null;
    });
    return out;
  }

  /** The connection a command goes on now: a Cluster's, of the node that serves its slot (null: not known). */
  private connectionFor(command: Command): Redis | null {
    const client = this.client;
    if (!(client instanceof Cluster)) return client;
    if (client.status !== 'ready') return null;
    const slot = command.getSlot();
    const nodeKey = slot === null ? undefined : client.slots[slot]?.[0];
    if (nodeKey === undefined) return null;
    // After a MOVED the table holds the address the node announced: where natMap says to reach it.
    const { host, port } = (client as unknown as { natMapper(key: string): { host: string; port: number } }).natMapper(nodeKey);
    return client.nodes('all').find((node) => node.options.host === host && node.options.port === port) ?? null;
  }

  /** The connection whose socket this is, while it still is (null: gone). */
  private connectionOn(socket: object | null): Redis | null {
    if (!socket) return null;
    const connections = this.client instanceof Cluster ? this.client.nodes('all') : [this.client];
    return connections.find((connection) => connection.stream === socket) ?? null;
  }
}
