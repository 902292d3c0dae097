// Choose a store by URL: sqlite:./data/fusion.db (default; ?synchronous=FULL, ?watchMs=N, ?reserveMb=N), redis://host:6379/0,
// postgres://user@host:5432/db (?schema=fusion, ?max=10).
import { FusionError } from '../core/errors.js';
import type { Store } from '../core/store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import { isRedisUrl } from './url.js';

export const DEFAULT_STORE_URL = 'sqlite:./data/fusion.db';

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  /** Redis key prefix (default "fusion"). */
  prefix?: string;
}

export async function openStore(url: string = DEFAULT_STORE_URL, opts: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length).replace(/^\/\//, '');
    const [path, query] = rest.split('?');
    const params = new URLSearchParams(query ?? '');
    const sync = (params.get('synchronous') ?? opts.sqlite?.synchronous ?? 'NORMAL').toUpperCase();
    if (sync !== 'NORMAL' && sync !== 'FULL') {
      throw new FusionError('invalid_store', 'synchronous must be NORMAL or FULL', { url });
    }
    const watch = params.get('watchMs');
    const watchMs = watch === null ? opts.sqlite?.watchMs : Number(watch);
    if (watchMs !== undefined && !(Number.isInteger(watchMs) && watchMs >= 0)) {
      throw new FusionError('invalid_store', 'watchMs must be an integer >= 0', { url });
    }
    const reserve = params.get('reserveMb');
    const reserveMb = reserve === null ? opts.sqlite?.reserveMb : reserve === '' ? NaN : Number(reserve);
    if (reserveMb !== undefined && !(Number.isInteger(reserveMb) && reserveMb >= 0)) {
      throw new FusionError('invalid_store', 'reserveMb must be an integer >= 0', { url });
    }
    const file = path || './data/fusion.db';
    try {
      return new SqliteStore(file, { ...opts.sqlite, synchronous: sync, watchMs, reserveMb });
    } catch (err) {
      // SQLite's own "unable to open database file" names no file: the operator is told which, and what it needs.
      const e = err as { code?: string; message?: string };
      throw new FusionError('store_unavailable', `could not open the SQLite store at ${file} (it needs a directory it can create or write, and a file it can write): ${e.message ?? String(err)}${e.code && !String(e.message).includes(e.code) ? ` (${e.code})` : ''}`, { path: file });
    }
  }
  // A shared store's clock is read before anything uses it (core/shared-clock.ts).
  if (isRedisUrl(url)) {
    const { openRedisStore } = await import('./redis/index.js');
    return startClock(await openRedisStore(url, opts));
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres/store.js');
    return startClock(await PostgresStore.open(url));
  }
  throw new FusionError('invalid_store', `unknown store URL "${url}" (use sqlite:PATH, redis://HOST:PORT/DB or postgres://USER@HOST/DB)`, { url });
}

async function startClock<S extends Store>(store: S): Promise<S> {
  await store.clock?.start();
  return store;
}
