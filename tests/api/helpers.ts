// A Fusion on a real SQLite file in a temp dir, with an API server in front of it.
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Fusion } from '../../src/fusion.js';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { tempDir } from '../helpers/tmp.js';
import { LOOPBACK_ALLOWED } from '../helpers/engine.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { Clock } from '../../src/core/clock.js';

export const KEYS = {
  admin: 'admin-key-0123456789abcdef',
  send: 'send-key-0123456789abcdef',
  read: 'read-key-0123456789abcdef',
};
export const KEY_SPEC = `${KEYS.admin}:admin,${KEYS.send}:send,${KEYS.read}:read`;

export interface Api {
  app: FastifyInstance;
  fusion: Fusion;
  dir: string;
  /** inject with a role's key (or none). */
  call(opts: InjectOptions & { as?: keyof typeof KEYS | null }): Promise<LightMyRequestResponse>;
  totalJobs(): Promise<number>;
  close(): Promise<void>;
}

// channels: off by default here, so API tests may use channel tasks (sms, ...) as plain known tasks;
// the channels' own payload checks are tested in tests/channels.
/** `config`: the Fusion's config; default LOOPBACK_ALLOWED, since callbacks in these tests go to loopback servers. */
/** `clock`: the Fusion's clock (a ManualClock makes every time in the answers fixed). */
export async function startApi(opts: Partial<ServerOptions> & { auth?: boolean; setup?: (f: Fusion) => void; channels?: boolean; config?: FusionConfig; clock?: Clock } = {}): Promise<Api> {
  const t = tempDir('fusion-api-');
  const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'fusion.db')}`, channels: opts.channels ?? false, config: opts.config ?? LOOPBACK_ALLOWED, clock: opts.clock });
  opts.setup?.(fusion);
  const app = await buildServer({
    fusion,
    processMetrics: false,
    ...(opts.auth ? { apiKeys: parseKeys(KEY_SPEC) } : {}),
    ...opts,
  });
  await app.ready();
  return {
    app,
    fusion,
    dir: t.dir,
    call({ as = 'admin', ...o }) {
      const headers = { ...(o.headers ?? {}) } as Record<string, string>;
      if (as && opts.auth) headers.authorization = `Bearer ${KEYS[as]}`;
      return app.inject({ ...o, headers });
    },
    async totalJobs() {
      const counts = await fusion.store.countJobs();
      let n = 0;
      for (const c of Object.values(counts)) for (const v of Object.values(c)) n += v;
      return n;
    },
    async close() {
      try {
        await app.close();
        await fusion.close(100);
      } finally {
        t.remove();
      }
    },
  };
}

/** Resolves on the first store event matching `pred` (subscribe before acting). */
export function nextEvent(fusion: Fusion, pred: (e: import('../../src/core/store.js').StoreEvent) => boolean, timeoutMs = 10_000): Promise<import('../../src/core/store.js').StoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for a store event'));
    }, timeoutMs);
    const off = fusion.store.subscribe((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

export const json = (r: LightMyRequestResponse) => JSON.parse(r.body);
