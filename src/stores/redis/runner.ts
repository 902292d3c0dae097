// Running the store's scripts (scripts.ts, called through script-calls.ts) on a Redis: as one function library with FCALL where
// Redis has functions (7.0+), as EVALSHA where it has not or when asked. Either way each call is
// one Command built from one array: ioredis's defineCommand path copies a worker's few hundred
// arguments four times through rest and spread parameters (measured: ~15% of a busy worker's CPU).
import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import { SCRIPT_NAMES, SLOT_CHECK, functionLibrary, scriptSource, type ScriptName } from './scripts.js';
import type { ScriptCall } from './script-calls.js';
import type { RedisClient, ReplicaWait } from './connect.js';
import { CountedCommand, ReplicaWaits } from './replica-wait.js';

export type Raw = (string | number)[];

/** Each script's full source and its SHA-1, the name Redis caches it under. */
const SCRIPT_SHAS = Object.fromEntries(SCRIPT_NAMES.map((name) => {
  const source = scriptSource(name);
  return [name, { source, sha: createHash('sha1').update(source).digest('hex') }];
})) as Record<ScriptName, { source: string; sha: string }>;
const LIBRARY = functionLibrary();

export class ScriptRunner {
  private loading: Promise<void> | null = null;

  private readonly replicaWaits: ReplicaWaits | null;

  private readonly cluster: boolean;

  /**
   * functions: start with FCALL, until a Redis says it has no functions. replicaWait: every call is
   * answered only once that many replicas hold what it wrote (replica-wait.ts; WAIT holds up its
   * connection: give such a runner a connection of its own).
   */
  constructor(private client: RedisClient, private functions: boolean, replicaWait: ReplicaWait | null = null) {
    this.replicaWaits = replicaWait ? new ReplicaWaits(client, replicaWait) : null;
    this.cluster = client instanceof Cluster;
  }

  /** `wrote`: whether an answer says the script wrote something (where calls wait for replicas; default yes). */
  call<T>({ script: name, keys, args }: ScriptCall<T>, wrote?: (answer: T) => boolean): Promise<T> {
    // A slot on the move refuses the call rather than run it on part of its keys (SLOT_CHECK).
    if (this.cluster) keys = [...keys, keys[0] + SLOT_CHECK];
    if (!this.functions) return this.evalsha<T>(name, keys, args, wrote);
    const argv = buildArgv(LIBRARY.names[name], keys, args);
    const send = () => this.send<T>(scriptCommand('fcall', argv), wrote);
    return send().catch(async (err: Error) => {
      if (/unknown command/i.test(err.message)) {
        this.functions = false;
        return this.evalsha<T>(name, keys, args, wrote);
      }
      // A Redis that restarted without its data, flushed its functions, or is a new Cluster node.
      if (!/function not found/i.test(err.message)) throw err;
      await this.loadLibrary();
      return send();
    });
  }

  /** FUNCTION LOAD the library, on every master of a Cluster; one load at a time. */
  private loadLibrary(): Promise<void> {
    this.loading ??= (async () => {
      const client = this.client;
      const nodes = client instanceof Cluster ? client.nodes('master') : [client];
      await Promise.all(nodes.map(async (node) => {
        try {
          await node.call('FUNCTION', 'LOAD', LIBRARY.source);
        } catch (err) {
          if (!/already exists/i.test((err as Error).message)) throw err;
        }
      }));
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** A Redis that lacks the script (restarted, or a new Cluster node) gets EVAL once, which also caches it there. */
  private evalsha<T>(name: ScriptName, keys: string[], args: Raw, wrote?: (answer: T) => boolean): Promise<T> {
    const script = SCRIPT_SHAS[name];
    const argv = buildArgv(script.sha, keys, args);
    return this.send<T>(scriptCommand('evalsha', argv), wrote).catch((err: Error) => {
      if (!err.message.includes('NOSCRIPT')) throw err;
      argv[0] = script.source;
      return this.send<T>(scriptCommand('eval', argv), wrote);
    });
  }

  private send<T>(command: CountedCommand, wrote?: (answer: T) => boolean): Promise<T> {
    const answer = this.client.sendCommand(command) as Promise<T>;
    if (!this.replicaWaits) return answer;
    // Check writes' keys start so: in the script's slot (its first key's hash tag on a Cluster).
    const checkKey = `${(command.args as string[])[2]}:replica-check`;
    return this.replicaWaits.confirmed(command, answer, wrote ?? (() => true), checkKey);
  }
}

/**
 * The command's arguments as text, numbers by String(). (ioredis writes integers beyond 2^53 in full
 * digits where String() gives '1e+21'; Lua's tonumber, ZADD and Number() read both alike.)
 */
function buildArgv(head: string, keys: string[], args: Raw): string[] {
  const argv: string[] = new Array(2 + keys.length + args.length);
  argv[0] = head;
  argv[1] = String(keys.length);
  for (let i = 0; i < keys.length; i++) argv[2 + i] = keys[i]!;
  for (let i = 0, o = 2 + keys.length; i < args.length; i++) {
    const value = args[i]!;
    argv[o + i] = typeof value === 'string' ? value : String(value);
  }
  return argv;
}

/**
 * A script call written as one flat string. ioredis's own toWritable grows the command with `+=`,
 * a rope of five string pieces per argument that the socket then flattens before encoding it; here
 * the pieces go into an array joined once (one copy into a flat string). Client instructions per
 * job (callgrind): 100 adds in flight ~3% fewer, bulk adds of 1,000 ~1-3%. The bytes are those
 * ioredis writes (RESP: `*count`, then `$length` and each argument), lengths in UTF-8 bytes as it
 * counts them. ioredis's own Script class overrides toWritable too.
 */
class ScriptCommand extends CountedCommand {
  override toWritable(socket: object): string {
    this.counted(socket);
    const argv = this.args as string[];
    const n = argv.length;
    const parts: string[] = new Array(2 * n + 2);
    parts[0] = '*' + (n + 1) + '\r\n$' + this.name.length + '\r\n' + this.name;
    for (let i = 0; i < n; i++) {
      const arg = argv[i]!;
      parts[2 * i + 1] = '\r\n$' + Buffer.byteLength(arg) + '\r\n';
      parts[2 * i + 2] = arg;
    }
    parts[2 * n + 1] = '\r\n';
    return parts.join('');
  }
}

/**
 * A Command of arguments already flat and text. Given to the constructor, ioredis copies them
 * (args.flat()) and checks each for a conversion: a third of the client's JS on a lone add
 * (profiled). Set after, they go out as they are; Command.args is a public field, read when the
 * command is written.
 */
export function scriptCommand(name: string, argv: string[]): CountedCommand {
  const command = new ScriptCommand(name, [], { replyEncoding: 'utf8' });
  command.args = argv;
  return command;
}
