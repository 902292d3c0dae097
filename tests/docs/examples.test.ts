// The docs' examples run as written. Shell examples are taken from the Markdown, run by `sh` against a
// fresh `fusion start` child process (only the host:port is replaced), and what the doc says they
// answer is asserted. The outputs the docs quote (the boot line, `fusion config check`) are compared
// with what the CLI prints. (Every ```json block of docs/configuration.md is validated in
// tests/channels/config.test.ts; the inline config of docs/webhooks.md is validated here.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { validateConfig } from '../../src/channels/config.js';
import { CLI } from '../helpers/net.js';
import { settled, spawnHub, teardown, testStore, writeConfig, type HubProcess, type TestStore } from '../e2e/hub.js';

const sh = promisify(execFile);
const doc = (file: string) => readFileSync(join(process.cwd(), file), 'utf8');
const DOC_HOST = 'http://127.0.0.1:8002';

/** The section of a Markdown page under a heading, up to the next heading of its level or above (fences skipped). */
function section(md: string, heading: string): string {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `the doc has a section "${heading}"`);
  const level = heading.match(/^#+/)![0].length;
  let fenced = false;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i]!.startsWith('```')) fenced = !fenced;
    else if (!fenced && new RegExp(`^#{1,${level}} `).test(lines[i]!)) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

/** The fenced blocks of a piece of Markdown with the given info string (`sh`, `json`, or '' for none). */
function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(/^```([a-z]*)\n([\s\S]*?)^```/gm)].filter((m) => m[1] === lang).map((m) => m[2]!);
}

/** Run a doc's shell command against the hub (its host:port only replaced); stdout. */
async function runShell(command: string, base: string): Promise<string> {
  assert.ok(command.includes(DOC_HOST), `the example talks to ${DOC_HOST}: ${command}`);
  const { stdout } = await sh('sh', ['-c', command.split(DOC_HOST).join(base)], { timeout: 30_000 });
  return stdout;
}

describe('docs: README.md examples against a fresh `fusion start`', () => {
  let store: TestStore;
  let hub: HubProcess;
  before(async () => {
    store = await testStore('sqlite');
    // A fresh hub, as `npm start` runs it: no config, no keys.
    hub = await spawnHub('start', ['--store', store.url, '--port', '0'], { cwd: store.dir });
  });
  after(() => teardown([hub], store));

  it('"Two commands": curl /healthz answers {"status":"ok"}', async () => {
    const readme = doc('README.md');
    const line = section(readme, '## Two commands').match(/`(curl [^`]*\/healthz)` answers `([^`]*)`/);
    assert.ok(line, 'the README shows the health check and its answer');
    assert.deepEqual(JSON.parse(await runShell(line[1]!, hub.base)), JSON.parse(line[2]!));
  });

  it('"Send something": the curl SMS example is queued, then completes with provider dry-run and a message id', async () => {
    const part = section(doc('README.md'), '## Send something');
    const [block] = blocks(part, 'sh');
    assert.ok(block, 'the section has a sh example');
    const command = block.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    assert.match(command, /curl .*\/v1\/jobs/);
    const said = block.match(/^# → (\{.*\}); GET (\/v1\/jobs\/<id>\?wait=\d+) shows it completed, with provider and message id/m);
    assert.ok(said, 'the example says what it answers');

    const answer = JSON.parse(await runShell(command, hub.base)) as { id: string; state: string };
    // "→ {"id":"…","state":"queued",…}": every field the doc spells out, as it spells it.
    for (const [k, v] of Object.entries(JSON.parse(said[1]!.replace(/,…\}$/, '}')) as Record<string, string>)) {
      if (v === '…') assert.ok(typeof (answer as unknown as Record<string, unknown>)[k] === 'string' && (answer as unknown as Record<string, string>)[k]!.length > 0, `${k} is given`);
      else assert.equal((answer as unknown as Record<string, unknown>)[k], v, `${k} as the doc says`);
    }
    const follow = JSON.parse(await runShell(`curl -s ${DOC_HOST}${said[2]!.replace('<id>', answer.id)}`, hub.base));
    assert.equal(follow.state, 'completed', JSON.stringify(follow.error));
    assert.equal(follow.result.provider, 'dry-run', 'with no provider configured the job completes with provider dry-run');
    assert.match(follow.result.messageId, /^dry-/);
    assert.equal(follow.priority, 2, '"priority":"high"');
    // "the hub logs what it would have sent" (masked), and "says which channels are dry at boot".
    await hub.line((l) => String(l.msg).startsWith('dry-run: sms not sent'), 'the dry-run send');
    assert.ok(hub.lines().some((l) => String(l.msg).startsWith('channels in dry-run') && l.channels.includes('sms')));
    assert.equal((await settled(hub.base, answer.id)).state, 'completed');
  });

  it('docs/configuration.md: the boot line it quotes is the one a fresh hub prints', async () => {
    const quoted = doc('docs/configuration.md').match(/^channels in dry-run \(no provider configured\): .*$/m);
    assert.ok(quoted, 'the doc quotes the boot line');
    const printed = hub.lines().find((l) => String(l.msg).startsWith('channels in dry-run'));
    assert.equal(printed?.msg, quoted[0]);
  });
});

describe('docs: docs/configuration.md `fusion config check` output', () => {
  it('the complete example checks valid and prints the routing the doc shows', async () => {
    const md = doc('docs/configuration.md');
    const example = blocks(md, 'json')[0]!;
    const check = section(md, '## `fusion config check`');
    const shown = blocks(check, '')[1]!; // [0] is the command line
    assert.match(blocks(check, '')[0]!, /^fusion config check --config fusion\.config\.json\n$/);
    const store = await testStore('sqlite');
    try {
      const file = writeConfig(store.dir, JSON.parse(example));
      const env: NodeJS.ProcessEnv = { ...process.env, FUSION_CONFIG: '' };
      for (const m of example.matchAll(/"env:([A-Za-z_][A-Za-z0-9_]*)"/g)) env[m[1]!] = m[1]!.includes('WEBHOOK') ? 'whsec_ZG9jcy1leGFtcGxlLXNlY3JldC0xMjM0NTY=' : `doc-value-${m[1]}`;
      const child = spawn(process.execPath, [CLI, 'config', 'check', '--config', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0, out);
      // Every line the doc shows (the file's path aside, "…" elided), in the doc's order.
      const lines = out.split('\n');
      let at = 0;
      for (const want of shown.split('\n').filter((l) => l && l !== '…')) {
        const line = want.replace('/srv/fusion/fusion.config.json', file);
        const i = lines.indexOf(line, at);
        assert.ok(i >= 0, `the doc shows "${want}", the CLI printed:\n${out}`);
        at = i + 1;
      }
      assert.ok(!out.includes('doc-value-FUSION_ES_PASSWORD'), 'credentials are printed as ***');
    } finally {
      await store.cleanup();
    }
  });
});

describe('docs: docs/webhooks.md', () => {
  it('the outgoing allowlist example is a valid config', () => {
    const md = doc('docs/webhooks.md');
    const m = md.match(/`(outgoing: \{[^`]*\})`/);
    assert.ok(m, 'the doc shows an outgoing config');
    // The doc writes it as a JS object: quote its keys and strings; the placeholder gets a real regex.
    const json = `{${m[1]!}}`
      .replace(/'<the original whitelist regex>'/, JSON.stringify('^(.+\\.)?example\\.com$'))
      .replace(/'([^']*)'/g, (_, s: string) => JSON.stringify(s))
      .replace(/([{,]\s*)([A-Za-z]+):/g, '$1"$2":');
    const { config } = validateConfig(JSON.parse(json), { env: {} });
    assert.deepEqual(config.outgoing?.allow, ['10.1.0.0/16', 'hooks.internal', '*.corp.example']);
  });
});

describe('docs: docs/api.md curl examples against a `fusion start` with a key', () => {
  let store: TestStore;
  let hub: HubProcess;
  const md = doc('docs/api.md');
  // "Examples below assume:" the doc's own exports.
  const key = md.match(/^export KEY=(\S+)/m)![1]!;
  before(async () => {
    store = await testStore('sqlite');
    // `/mapping/` needs a `mapping` handler and `/api/tasks` the Celery example's tasks, as the doc says.
    const mapping = join(store.dir, 'mapping-task.mjs');
    writeFileSync(mapping, "export default (fusion) => fusion.task('mapping', async (p) => p, { queue: 'dictionary' });\n");
    hub = await spawnHub('start', ['--store', store.url, '--port', '0', '--tasks', mapping, '--tasks', join(process.cwd(), 'dist/examples/celery-tasks.js')],
      { cwd: store.dir, env: { FUSION_API_KEYS: `${key}:admin` } });
  });
  after(() => teardown([hub], store));

  /** Every curl command of the page's sh blocks, continuation lines joined, in the page's order. */
  function commands(): string[] {
    return blocks(md, 'sh').flatMap((b) => b.replace(/\\\n/g, ' ').split('\n')).filter((l) => l.startsWith('curl '));
  }

  it('every example that names no placeholder id answers without an error, as written', async () => {
    const env = { ...process.env, FUSION: hub.base, KEY: key };
    const failures: string[] = [];
    const run = async (command: string, extra: Record<string, string> = {}) => {
      const { stdout } = await sh('sh', ['-c', command], { timeout: 30_000, env: { ...env, ...extra } });
      let answer: unknown;
      try {
        answer = JSON.parse(stdout);
      } catch {
        return; // Prometheus text, an empty 204
      }
      if ((answer as { error?: { code?: string } } | null)?.error?.code) failures.push(`${command}\n  answered ${stdout}`);
    };
    const newJob = async () => {
      const res = await fetch(`${hub.base}/v1/jobs`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'sms', payload: { to: '+919876543210', text: 'later' }, delay: 3_600_000 }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    let ran = 0;
    for (const command of commands()) {
      // Placeholders (a job id the reader has), the streaming one, and "At a glance"'s long poll (its own $ID) are not run.
      if (command.includes('0193c6e4-...') || command.startsWith('curl -N') || (command.includes('localhost:8002') && command.includes('$ID'))) continue;
      if (command.includes('localhost:8002')) {
        await run(command.replaceAll('localhost:8002', hub.base.replace(/^http:\/\//, '')));
      } else if (command.includes('$ID')) {
        // Each job action on a job in the state it needs: a delayed job, cancelled first for a retry.
        const id = await newJob();
        if (command.includes('/retry')) await run(`curl -sS -X POST $FUSION/v1/jobs/${id}/cancel -H "Authorization: Bearer $KEY"`);
        await run(command, { ID: id });
      } else {
        await run(command);
      }
      ran++;
    }
    assert.deepEqual(failures, [], `examples that answer an error:\n${failures.join('\n')}`);
    assert.ok(ran >= 30, `ran ${ran} examples`);
  });
});

describe('docs: docs/schedules.md', () => {
  it('the library example runs as written, and every schedule it makes has a next run', async () => {
    const [block] = blocks(section(doc('docs/schedules.md'), '# Schedules'), 'ts');
    assert.ok(block, 'the page opens with a ts example');
    const store = await testStore('sqlite');
    try {
      // The snippet as a module of its own (Fusion.open() with its default store, in the test's dir),
      // then what it made, and a close (the snippet leaves its scheduler and worker running).
      const js = ts.transpileModule(block, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      const file = join(store.dir, 'schedules-example.mjs');
      writeFileSync(file, `import { Fusion } from ${JSON.stringify(join(process.cwd(), 'dist/src/index.js'))};\n${js}\n` +
        'console.log(JSON.stringify((await fusion.scheduler.list()).map((s) => ({ id: s.id, nextRunAt: s.nextRunAt }))));\nawait fusion.close();\n');
      const { stdout } = await sh(process.execPath, [file], { cwd: store.dir, timeout: 30_000 });
      const made = JSON.parse(stdout.trim().split('\n').pop()!) as { id: string; nextRunAt: unknown }[];
      assert.equal(made.length, 4, stdout);
      for (const s of made) assert.ok(s.nextRunAt !== null, `schedule ${s.id} will never run: ${stdout}`);
    } finally {
      await store.cleanup();
    }
  });
});
