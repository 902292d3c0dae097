// Per-attempt log lines in the original worker's fields around every channel task, and their
// shipping to Elasticsearch (a loopback stand-in of its bulk API) with no secret in them, nor an OTP's code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { installChannels, type ChannelMaker } from '../../src/channels/index.js';
import { ProviderError } from '../../src/channels/provider.js';
import { SnoozeError } from '../../src/core/errors.js';
import { MAX_LOG_RESULT, type AttemptLogLine } from '../../src/channels/attempt-log.js';
import { validateConfig } from '../../src/channels/config.js';
import { createShippingLogger } from '../../src/logging.js';
import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForState } from '../helpers/engine.js';
import { within } from '../helpers/await.js';

const PROVIDER_SECRET = 'prov-secret-9f8e7d6c';
const PAYLOAD_SECRET = 'payload-token-123456';

/** A config whose provider holds a credential (from the environment, as in production). */
const config = (): FusionConfig =>
  validateConfig(
    { channels: { sms: { providers: { stub: { type: 'dry-run', apiKey: 'env:TEST_PROVIDER_KEY' } } } } },
    { env: { TEST_PROVIDER_KEY: PROVIDER_SECRET } },
  ).config;

/**
 * A channel as the real ones are built (tasks with options, a queue of their own). Its handler
 * echoes the provider credential and a long answer back, as a careless provider might, and fails
 * the first attempt of jobs that ask for it.
 */
const testChannel: ChannelMaker = () => ({
  dryRun: true,
  tasks: [{
    name: 'test-sms',
    options: { queue: 'test-sms-q', maxAttempts: 2, backoff: { type: 'fixed', delay: 1 } },
    handler: async (payload: { fail?: 'once' | 'always'; snooze?: boolean }, ctx) => {
      // A snooze on the job's only attempt (once): it must not be logged as failed.
      if (payload.snooze && !ctx.job.history.some((h) => h.outcome === 'snoozed')) throw new SnoozeError(1, 'partner busy');
      if (payload.fail === 'always') throw new ProviderError(`refused for key ${PROVIDER_SECRET}`, { code: 'http_400', retryable: false, status: 400, raw: { error: 'bad number' } });
      if (payload.fail === 'once' && ctx.attempt === 1) throw new ProviderError('provider answered 503', { code: 'http_503', retryable: true, status: 503 });
      return { provider: 'stub', messageId: 'm-1', raw: `echo ${PROVIDER_SECRET} ${'x'.repeat(5000)}` };
    },
  }],
});

/** A Logger collecting what it is given (the lines pino would serialize). */
function collector(): Logger & { lines: (AttemptLogLine & { level: string })[] } {
  const lines: (AttemptLogLine & { level: string })[] = [];
  const at = (level: string) => (obj: object) => {
    if ('job_id' in obj) lines.push({ ...(obj as AttemptLogLine), level });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function harness(logger: Logger) {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'fusion.db'));
  const cfg = config();
  const fusion = await Fusion.open({ store, config: cfg, logger, channels: false });
  const installed = installChannels(fusion.registry, { config: cfg, guard: fusion.guard, dispatcher: fusion.guard.dispatcher(), store, clock: fusion.clock, logger }, { sms: testChannel });
  return { t, store, fusion, installed, async close() { await fusion.close(1000); t.remove(); } };
}

describe('attempt log lines', () => {
  it('a worker with no queue list serves the channel queue; started and completed lines carry the original fields', async () => {
    const log = collector();
    const h = await harness(log);
    try {
      assert.deepEqual(h.installed.tasks, ['test-sms']);
      assert.ok(h.fusion.taskQueues().includes('test-sms-q'), 'the channel queue is among the served ones');
      h.fusion.worker({ concurrency: 1 });
      const job = await h.fusion.enqueue('test-sms', { to: '+919876543210', text: 'hi', authToken: PAYLOAD_SECRET, nested: { password: PAYLOAD_SECRET } }, { tags: ['task_type:OTP', 'campaign'] });
      assert.equal(job.queue, 'test-sms-q');
      assert.equal((await waitForState(h.store, job.id, 'completed')).state, 'completed');
      const lines = log.lines.filter((l) => l.job_id === job.id);
      assert.deepEqual(lines.map((l) => [l.status, l.message, l.level]), [
        ['started', 'Execution Started', 'info'],
        ['completed', 'Execution Successful', 'info'],
      ]);
      for (const l of lines) {
        assert.equal(l.task, 'SMS');
        assert.equal(l.task_type, 'OTP');
        assert.equal(l.tags, 'SMS_OTP');
        assert.deepEqual(l.job_tags, ['task_type:OTP', 'campaign']);
        assert.equal(l.host, hostname());
        assert.equal(l.attempt, 1);
        assert.ok(!Number.isNaN(Date.parse(l.log_time)) && l.log_time.endsWith('Z'), l.log_time);
      }
      const done = lines[1]!;
      assert.ok(done.job_result!.length <= MAX_LOG_RESULT + 40, `job_result capped, got ${done.job_result!.length}`);
      assert.match(done.job_result!, /"messageId":"m-1".*more characters\]$/);
      const all = JSON.stringify(lines);
      assert.ok(!all.includes(PROVIDER_SECRET), 'the provider credential is scrubbed');
      assert.ok(!all.includes(PAYLOAD_SECRET), 'payload secrets are masked');
      assert.match(lines[0]!.payload, /"authToken":"\[redacted\]".*"password":"\[redacted\]"/);
    } finally {
      await h.close();
    }
  });

  it('a retryable failure logs retrying, a final one failed, a snooze snoozed, with the provider answer and no credential', async () => {
    const log = collector();
    const h = await harness(log);
    try {
      h.fusion.worker({ concurrency: 2 });
      const retried = await h.fusion.enqueue('test-sms', { fail: 'once', task_type: 'PROMO' });
      const failed = await h.fusion.enqueue('test-sms', { fail: 'always' });
      await waitForState(h.store, retried.id, 'completed');
      await waitForState(h.store, failed.id, 'failed');
      const of = (id: string) => log.lines.filter((l) => l.job_id === id).map((l) => [l.status, l.message, l.level, l.attempt]);
      assert.deepEqual(of(retried.id), [
        ['started', 'Execution Started', 'info', 1],
        ['retrying', 'Execution Retry: provider answered 503', 'warn', 1],
        ['started', 'Execution Started', 'info', 2],
        ['completed', 'Execution Successful', 'info', 2],
      ]);
      assert.equal(log.lines.find((l) => l.job_id === retried.id)!.task_type, 'PROMO');
      assert.deepEqual(of(failed.id), [
        ['started', 'Execution Started', 'info', 1],
        ['failed', 'Execution Failed: refused for key ***', 'error', 1],
      ]);
      const snoozed = await h.fusion.enqueue('test-sms', { snooze: true }, { maxAttempts: 1 });
      await waitForState(h.store, snoozed.id, 'completed');
      assert.deepEqual(of(snoozed.id), [
        ['started', 'Execution Started', 'info', 1],
        ['snoozed', 'Execution Snoozed: partner busy', 'info', 1],
        ['started', 'Execution Started', 'info', 1],
        ['completed', 'Execution Successful', 'info', 1],
      ]);
      const fail = log.lines.find((l) => l.job_id === failed.id && l.status === 'failed')!;
      assert.equal(fail.job_result, '{"error":"bad number"}');
      assert.equal(fail.tags, 'SMS');
      assert.ok(!JSON.stringify(log.lines).includes(PROVIDER_SECRET));
    } finally {
      await h.close();
    }
  });

  it('an OTP\'s code is masked in its lines (words holding a digit, length kept); another send\'s text is not', async () => {
    const log = collector();
    const t = tempDir();
    // The real channels, in dry-run: sms and sms.otp as the API and /queue/ enqueue them.
    const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'fusion.db')}`, logger: log });
    try {
      fusion.worker({ queues: ['sms'], concurrency: 2 });
      const jobs = {
        tagged: await fusion.enqueue('sms', { contact: 9876543210, countryCode: 91, message: 'Your OTP is 4711' }, { tags: ['task_type:OTP'] }),
        task: await fusion.enqueue('sms.otp', { to: '+919876543210', text: 'Code: AB12CD. Valid 10 min' }),
        flagged: await fusion.enqueue('sms', { contact: 9876543210, countryCode: 91, message: 'Login code 918273', isOTP: 1, context: { var1: 918273, name: 'Asha' } }),
        plain: await fusion.enqueue('sms', { contact: 9876543210, countryCode: 91, message: 'Order 4711 shipped' }),
      };
      for (const j of Object.values(jobs)) await waitForState(fusion.store, j.id, 'completed');
      const payloads = (id: string) => {
        const lines = log.lines.filter((l) => l.job_id === id);
        assert.deepEqual(lines.map((l) => l.status), ['started', 'completed']);
        return lines.map((l) => JSON.parse(l.payload) as Record<string, unknown>);
      };
      for (const p of payloads(jobs.tagged.id)) assert.equal(p.message, 'Your OTP is ****');
      for (const p of payloads(jobs.task.id)) assert.equal(p.text, 'Code: ******* Valid ** min');
      for (const p of payloads(jobs.flagged.id)) assert.deepEqual([p.message, p.context], ['Login code ******', { var1: '******', name: 'Asha' }]);
      for (const p of payloads(jobs.plain.id)) assert.equal(p.message, 'Order 4711 shipped', 'not an OTP: the text as sent');
      const otpLines = JSON.stringify(log.lines.filter((l) => l.job_id !== jobs.plain.id));
      for (const code of ['4711', 'AB12CD', '918273']) assert.ok(!otpLines.includes(code), `${code} never in an OTP's line`);
    } finally {
      await fusion.close(1000);
      t.remove();
    }
  });

  it('follows the logger\'s level: at warn, a success writes nothing and a final failure still writes its full line', async () => {
    const log = collector();
    const asked: string[] = [];
    const atWarn = { ...log, isLevelEnabled: (level: string) => (asked.push(level), level === 'warn' || level === 'error') };
    const h = await harness(atWarn);
    try {
      h.fusion.worker({ concurrency: 2 });
      const ok = await h.fusion.enqueue('test-sms', { to: '+15550001', authToken: PAYLOAD_SECRET }, { tags: ['log_tag:OTP_FLOW'] });
      const failed = await h.fusion.enqueue('test-sms', { fail: 'always', authToken: PAYLOAD_SECRET }, { tags: ['log_tag:OTP_FLOW'] });
      await waitForState(h.store, ok.id, 'completed');
      await waitForState(h.store, failed.id, 'failed');
      assert.ok(asked.includes('info'), 'the level was asked');
      assert.deepEqual(log.lines.filter((l) => l.job_id === ok.id), [], 'nothing at info for a success');
      const lines = log.lines.filter((l) => l.job_id === failed.id);
      assert.deepEqual(lines.map((l) => [l.status, l.level]), [['failed', 'error']]);
      const fail = lines[0]!;
      assert.equal(fail.tags, 'OTP_FLOW', 'a log_tag tag names the line');
      assert.equal(fail.host, hostname());
      assert.match(fail.payload, /"authToken":"\[redacted\]"/);
      assert.ok(!JSON.stringify(lines).includes(PAYLOAD_SECRET) && !JSON.stringify(lines).includes(PROVIDER_SECRET));
    } finally {
      await h.close();
    }
  });
});

/** Elasticsearch's bulk API as far as the client uses it: product header on every answer, NDJSON bulk. */
async function esStandIn(): Promise<{ url: string; bulks: string[]; auth: (string | undefined)[]; server: Server; bulkSeen: Promise<void> }> {
  const bulks: string[] = [];
  const auth: (string | undefined)[] = [];
  let seen!: () => void;
  const bulkSeen = new Promise<void>((r) => (seen = r));
  const body = (req: IncomingMessage) => new Promise<string>((r) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (s += d));
    req.on('end', () => r(s));
  });
  const server = createServer(async (req, res) => {
    const text = await body(req);
    res.setHeader('x-elastic-product', 'Elasticsearch');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url === '/') {
      res.end(JSON.stringify({ name: 'stand-in', cluster_name: 'test', version: { number: '8.15.0', build_flavor: 'default' }, tagline: 'You Know, for Search' }));
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/_bulk')) {
      bulks.push(text);
      auth.push(req.headers.authorization);
      const actions = text.split('\n').filter(Boolean).filter((_, i) => i % 2 === 0);
      res.end(JSON.stringify({ took: 1, errors: false, items: actions.map(() => ({ index: { _index: 'fusion-test', status: 201, result: 'created' } })) }));
      seen();
      return;
    }
    res.end('{}'); // _refresh and the like
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, bulks, auth, server, bulkSeen };
}

describe('Elasticsearch shipping', () => {
  it('ships the attempt lines to the bulk API with the original fields, authenticated, with no secret in them', async () => {
    const es = await esStandIn();
    const t = tempDir();
    const outFile = join(t.dir, 'stdout.log');
    const fd = openSync(outFile, 'w');
    const ES_PASSWORD = 'es-password-31415';
    const shipping = await createShippingLogger({
      level: 'info',
      destination: fd,
      sync: true,
      elasticsearch: { node: es.url, index: 'fusion-test', auth: { username: 'fusion', password: ES_PASSWORD }, flushIntervalMs: 50 },
    });
    const h = await harness(shipping.logger);
    try {
      h.fusion.worker({ concurrency: 1 });
      const job = await h.fusion.enqueue('test-sms', { to: '+15550001', text: 'hello', api_key: PAYLOAD_SECRET }, { tags: ['task_type:OTP'] });
      await waitForState(h.store, job.id, 'completed');
      await within(es.bulkSeen, 10_000, 'a bulk request');
      await h.fusion.close(1000);
      await within(shipping.close(5000), 10_000, 'shipping closed');
      const docs = es.bulks.join('\n').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const actions = docs.filter((d) => 'index' in d);
      assert.ok(actions.every((a) => (a.index as { _index: string })._index === 'fusion-test'), JSON.stringify(actions[0]));
      const mine = docs.filter((d) => d.job_id === job.id);
      assert.deepEqual(mine.map((d) => d.status), ['started', 'completed']);
      for (const d of mine) {
        for (const f of ['job_id', 'task', 'task_type', 'status', 'host', 'log_time', 'message', 'tags']) assert.ok(f in d, `${f} shipped`);
        assert.equal(d.task, 'SMS');
        assert.equal(d.tags, 'SMS_OTP');
      }
      assert.equal(mine[1]!.message, 'Execution Successful');
      assert.ok(typeof mine[1]!.job_result === 'string');
      const expected = `Basic ${Buffer.from(`fusion:${ES_PASSWORD}`).toString('base64')}`;
      assert.ok(es.auth.every((a) => a === expected), 'bulk requests carry the configured credentials');
      // The same lines went to stdout; neither place holds a secret.
      const stdout = readFileSync(outFile, 'utf8');
      assert.ok(stdout.includes(`"job_id":"${job.id}"`));
      for (const text of [es.bulks.join('\n'), stdout]) {
        for (const secret of [PROVIDER_SECRET, PAYLOAD_SECRET, ES_PASSWORD]) assert.ok(!text.includes(secret), `no ${secret}`);
      }
    } finally {
      await h.close().catch(() => undefined);
      closeSync(fd);
      es.server.close();
      t.remove();
    }
  });

  it('keeps a bounded backlog for an Elasticsearch that takes bulk requests and answers none; stdout has every line', async () => {
    // Holds every request until the test is over, then answers them (and later ones) as the bulk API does.
    let answering = false;
    const held: (() => void)[] = [];
    const silent = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        const answer = () => {
          const actions = text.split('\n').filter(Boolean).filter((_, i) => i % 2 === 0);
          res.writeHead(200, { 'x-elastic-product': 'Elasticsearch', 'content-type': 'application/json' });
          res.end(JSON.stringify({ took: 1, errors: false, items: actions.map(() => ({ index: { status: 201, result: 'created' } })) }));
        };
        if (answering) answer();
        else held.push(answer);
      });
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const t = tempDir();
    const outFile = join(t.dir, 'stdout.log');
    const fd = openSync(outFile, 'w');
    const shipping = await createShippingLogger({
      level: 'info', destination: fd, sync: true,
      elasticsearch: { node: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, flushIntervalMs: 50 },
    });
    try {
      const N = 100_000;
      for (let i = 0; i < N; i++) shipping.logger.info({ job_id: `j${i}`, status: 'completed', job_result: 'y'.repeat(100) }, 'Execution Successful');
      // What the logger's destinations hold: stdout writes at once, the shipping side keeps what waits.
      const destinations = (shipping.logger as unknown as Record<symbol, { streams: { stream: { writableLength?: number } }[] }>)[pino.symbols.streamSym]!.streams;
      const waiting = destinations.reduce((n, d) => n + (d.stream.writableLength ?? 0), 0);
      assert.ok(waiting <= 16 * 1024 * 1024 + 1024, `bytes of log lines kept for shipping: ${waiting}`); // MAX_SHIPPING_BACKLOG_BYTES, and a line
      const stdout = readFileSync(outFile, 'utf8');
      assert.equal(stdout.split('\n').filter((l) => l.includes('"job_id"')).length, N, 'stdout has every line');
      assert.match(stdout, /elasticsearch shipping: log lines are not shipped while Elasticsearch is behind/);
    } finally {
      answering = true;
      for (const answer of held.splice(0)) answer();
      await within(shipping.close(10_000), 20_000, 'shipping closed');
      closeSync(fd);
      silent.close();
      t.remove();
    }
  });
});
