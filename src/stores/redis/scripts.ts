// The Redis store's Lua scripts, read from lua/ when this module loads. Each state change is one
// script, so it is atomic. A script's KEYS[1] is a hash-tag base (`{prefix:queue}` for queue
// scripts, `{prefix}` for global ones) and every other key it touches is that base plus a suffix
// (lua/lib/keys.lua), so all of them share one slot and the scripts run unchanged on Redis Cluster.
// Standalone Redis may pass KEYS[2] = the id→queue index (another slot), which keeps that index
// exact; on Cluster the store writes it separately.
//
// lua/lib/*.lua are helpers the scripts share (LIBRARY_FILES, in order: each uses only those
// before it); lua/<name>.lua is one script, which begins by naming its KEYS and ARGV. tsc does not
// copy .lua files, so they are read from the source tree, as the PostgreSQL migrations are.
// script-calls.ts builds each script's KEYS and ARGV.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WORK_EVENTS } from '../../core/store.js';
import { DEFAULTS } from '../../core/job.js';
import { CANCELLED_AT_ATTEMPT_END, OUTCOME_KINDS, OUTCOME_RULES } from '../../core/state-rules.js';
import { sourceDir } from '../source-dir.js';
import { ABSENT_LIMITS, CLAIM_FIELDS, FIELDS, LEAN_READER, RUN_AT_CREATED } from './codec.js';
import { REGISTRATION_MARK } from './handoff.js';

export const SCRIPT_NAMES = [
  'add', 'add-lean', 'claim', 'finish', 'finish-at-maxmemory', 'heartbeat', 'progress', 'recover', 'promote-due', 'job-op', 'clean', 'queue-set', 'queue-info',
  'state-page', 'log', 'schedule-upsert', 'schedule-remove', 'schedule-advance', 'worker-beat', 'workers-live', 'worker-gone',
  'sweep-lock', 'sweep-unlock', 'release-claim', 'job-format', 'format-upgrade',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

const LIBRARY_FILES = ['call-state', 'keys', 'indexes', 'history', 'events', 'claim-jobs', 'handoff', 'new-jobs'];

const luaList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');
/** A Lua long string: any text without its closing bracket, as it is. */
const luaLong = (text: string) => `[==[${text}]==]`;

/** What the lua files' `--[[$NAME]]` placeholders stand for: lists whose source of truth is TypeScript. */
const PLACEHOLDERS: Record<string, string> = {
  JOB_FIELDS: luaList(FIELDS),
  CLAIM_FIELDS: luaList(CLAIM_FIELDS),
  ABSENT_LIMITS: `'${ABSENT_LIMITS.maxAttempts}', '${ABSENT_LIMITS.maxStalls}'`,
  RUN_AT_CREATED: `'${RUN_AT_CREATED}'`,
  DEFAULT_PRIORITY: `'${DEFAULTS.priority}'`,
  LEAN_READER: `'${JSON.stringify(LEAN_READER).slice(1, -1)}'`,
  WORK_EVENTS: [...WORK_EVENTS].map((e) => `['${e}'] = true`).join(', '),
  REGISTRATION_MARK: `'${REGISTRATION_MARK}'`,
  YIELDS_TO_CANCEL: OUTCOME_KINDS.filter((k) => OUTCOME_RULES[k].yieldsToCancel).map((k) => `['${k}'] = true`).join(', '),
  CANCELLED_AT_ATTEMPT_END: luaLong(JSON.stringify(CANCELLED_AT_ATTEMPT_END)),
  CANCELLED_AT_ATTEMPT_END_MESSAGE: luaLong(JSON.stringify(CANCELLED_AT_ATTEMPT_END.message)),
};

const LUA_DIR = sourceDir(import.meta.url, ['./lua/', '../../../../src/stores/redis/lua/'], 'Redis Lua scripts');

/** lua/<file>.lua with its placeholders filled in. */
export function readLua(file: string): string {
  const text = readFileSync(`${LUA_DIR}/${file}.lua`, 'utf8');
  return text.replace(/--\[\[\$(\w+)\]\]/g, (_, name: string) => {
    const value = PLACEHOLDERS[name];
    if (value === undefined) throw new Error(`lua/${file}.lua: unknown placeholder ${name}`);
    return value;
  });
}

/** The shared helpers, in order. */
const HELPERS = LIBRARY_FILES.map((f) => readLua(`lib/${f}`)).join('');

/**
 * What Redis lets a script do when it is at maxmemory (noeviction), as Redis 7 function flags.
 * Unflagged, a function that writes is refused whole there (OOM), as adds and claims should be.
 * 'allow-oom': those that keep held work safe or free memory run on: heartbeats (in-place updates,
 * so leases do not lapse and no job runs twice), a held job's progress (in place: the push channel
 * keeps which tokens it reached there), a worker's outcomes without a claim (finish-at-maxmemory:
 * bounded by the jobs it holds), lease recovery, put-backs, retention and
 * operators' job and queue actions (removing jobs is how memory is freed), the worker registry and
 * the sweep lock. 'no-writes': reads, which Redis then runs at maxmemory too. As EVALSHA (Redis 6,
 * or asked) none applies: Redis refuses a script's first write that may grow memory there.
 */
const SCRIPT_FLAGS: Partial<Record<ScriptName, 'allow-oom' | 'no-writes'>> = {
  'finish-at-maxmemory': 'allow-oom', heartbeat: 'allow-oom', progress: 'allow-oom', recover: 'allow-oom', 'release-claim': 'allow-oom', clean: 'allow-oom',
  'job-op': 'allow-oom', 'queue-set': 'allow-oom', 'worker-beat': 'allow-oom', 'worker-gone': 'allow-oom', 'workers-live': 'allow-oom',
  'sweep-lock': 'allow-oom', 'sweep-unlock': 'allow-oom', 'schedule-remove': 'allow-oom',
  'queue-info': 'no-writes', 'state-page': 'no-writes',
};

/**
 * 'add-lean' is lua/add.lua with its lean flag set: the client picks it where the prefix is marked
 * lean. 'finish-at-maxmemory' is lua/finish.lua, flagged to run at maxmemory (SCRIPT_FLAGS): the
 * client sends it, with no claim, where 'finish' was refused for memory.
 */
function scriptText(name: ScriptName): string {
  if (name === 'finish-at-maxmemory') return readLua('finish');
  if (name !== 'add-lean') return readLua(name);
  const text = readLua('add');
  const lean = text.replace(/^local lean = false$/m, 'local lean = true');
  if (lean === text) throw new Error('lua/add.lua: no "local lean = false" line to make add-lean of');
  return lean;
}

/**
 * On Cluster each call declares, after its own KEYS, a second key of its slot that no one writes: its
 * KEYS[1] (a hash-tag base, which no key is either) and SLOT_CHECK (runner.ts), which the body drops
 * first. A node whose slot is migrating or importing refuses a call of several keys unless it holds
 * them all, so every call of a slot on the move is refused (TRYAGAIN) before it runs, and ioredis
 * tries it again. With the base alone, which exists nowhere, the migrating node sent each call on
 * (ASK) from the first SETSLOT, and the importing one ran it on the part of the slot it held, or none:
 * an add there made a second meta, seq and indexes beside the source's (the MIGRATE of the slot then
 * failed on BUSYKEY, or with REPLACE dropped those jobs), and a heartbeat found its jobs gone.
 */
export const SLOT_CHECK = ':~';
const DROP_SLOT_CHECK = `if string.byte(KEYS[#KEYS], -1) == ${SLOT_CHECK.charCodeAt(SLOT_CHECK.length - 1)} then KEYS[#KEYS] = nil end\n`;

/** Each script's body. */
export const SCRIPTS = Object.fromEntries(SCRIPT_NAMES.map((name) => [name, DROP_SLOT_CHECK + scriptText(name)])) as Record<ScriptName, string>;

/** A top-level definition of the helpers: its text (with the comment above it) and the names it defines. */
interface Unit {
  text: string;
  names: string[];
}

/** The helpers cut at each top-level `local`, comments going with the definition below them. */
function helperUnits(): Unit[] {
  const units: Unit[] = [];
  let pending: string[] = [];
  for (const line of HELPERS.split('\n')) {
    if (line.startsWith('local ')) {
      const fn = /^local function (\w+)/.exec(line);
      const eq = line.indexOf('=');
      const names = fn ? [fn[1]!] : line.slice(6, eq >= 0 ? eq : undefined).split(',').map((n) => n.trim());
      units.push({ text: [...pending, line].join('\n'), names });
      pending = [];
    } else if (units.length && !line.startsWith('--') && line !== '') {
      units[units.length - 1]!.text += '\n' + line;
    } else if (line !== '') pending.push(line);
  }
  return units;
}

/** Lua text without its comments (no script puts `--` in a string), so a name a comment mentions pulls nothing in. */
const code = (text: string) => text.replace(/--.*$/gm, '');
const uses = (text: string, name: string) => new RegExp(`\\b${name}\\b`).test(text);

/**
 * A script with only the helper definitions it uses, directly or through another: Redis runs all
 * of an EVAL's text on every call, and a call that defines twenty functions to use three pays for
 * it, most of all on one-job calls (a single enqueue) where little else happens.
 */
export function scriptSource(name: ScriptName): string {
  const units = helperUnits();
  const body = SCRIPTS[name];
  const needed = new Set<Unit>();
  let grew = true;
  while (grew) {
    grew = false;
    const texts = code([body, ...[...needed].map((u) => u.text)].join('\n'));
    for (const u of units) {
      if (!needed.has(u) && u.names.some((n) => uses(texts, n))) {
        needed.add(u);
        grew = true;
      }
    }
  }
  return '\n' + units.filter((u) => needed.has(u)).map((u) => u.text).join('\n') + '\n' + body;
}

/**
 * Every script as one Redis function library (Redis 7+), loaded once with FUNCTION LOAD and run with
 * FCALL. EVAL runs a script's helpers on each call: each of its functions is a new closure whose
 * upvalues are looked up one by one, ~20k instructions of a lone add (callgrind); a library runs
 * them once. The name carries a hash of the text, so stores of different versions on one Redis each
 * find their own.
 */
export function functionLibrary(): { source: string; names: Record<ScriptName, string> } {
  const lib = `fusion_${createHash('sha1').update(HELPERS + JSON.stringify(SCRIPTS) + JSON.stringify(SCRIPT_FLAGS)).digest('hex').slice(0, 16)}`;
  const names = {} as Record<ScriptName, string>;
  const fns = SCRIPT_NAMES.map((name) => {
    names[name] = `${lib}_${name.replace(/-/g, '_')}`;
    const flag = SCRIPT_FLAGS[name];
    const callback = `function(KEYS, ARGV)\n${SCRIPTS[name]}\nend`;
    return flag
      ? `redis.register_function{function_name='${names[name]}', callback=${callback}, flags={'${flag}'}}`
      : `redis.register_function('${names[name]}', ${callback})`;
  });
  return { source: `#!lua name=${lib}\n${HELPERS}\n${fns.join('\n')}\n`, names };
}
