// PostgreSQL store URLs: postgres://user:pass@host:5432/db?schema=fusion&max=10&socketTimeout=10000.
// Our own parameters are taken out of the URL before pg sees it.
import pg from 'pg';
import { FusionError } from '../../core/errors.js';
import { SCHEMA_NAME } from './sql.js';
import { redactStoreUrl, socketTimeoutOf } from '../url.js';

export interface PostgresUrl {
  /** The URL pg connects with (our parameters removed). */
  connectionString: string;
  schema: string;
  max: number;
  /** How long a connection may wait on one statement before the server is asked whether it still runs (silence.ts; 0: never). */
  socketTimeoutMs: number;
}

export function parsePostgresUrl(url: string): PostgresUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FusionError('invalid_store', 'not a valid postgres:// URL', { url: redactStoreUrl(url) });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new FusionError('invalid_store', 'a PostgreSQL store URL starts with postgres://', { url: redactStoreUrl(url) });
  }
  const schema = checkSchemaName(u.searchParams.get('schema') ?? 'fusion');
  const max = Number(u.searchParams.get('max') ?? 10);
  if (!Number.isInteger(max) || max < 2 || max > 1000) throw new FusionError('invalid_store', 'max (pool size) must be an integer from 2 to 1000', { max });
  const socketTimeoutMs = socketTimeoutOf(u.searchParams.get('socketTimeout'), url);
  u.searchParams.delete('schema');
  u.searchParams.delete('max');
  u.searchParams.delete('socketTimeout');
  return { connectionString: u.toString(), schema, max, socketTimeoutMs };
}

/** A schema name the store takes (SCHEMA_NAME), from the URL or an option; else invalid_store. */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new FusionError('invalid_store', 'schema must be a lower-case identifier of at most 48 characters ([a-z_][a-z0-9_]*)', { schema });
  }
  return schema;
}

/** Type parsers of the store's own connections: bigint (epoch ms, counts) as a JS number. */
export const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;
