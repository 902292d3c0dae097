// `fusion store info [--store URL]`: which store a URL names and, for PostgreSQL, its schema's
// version against the migrations this build carries. Read-only: it never creates or migrates.
import { DEFAULT_STORE_URL } from '../stores/index.js';

const redact = (url: string) => url.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');

export async function storeCommand(sub: string | undefined, url: string = DEFAULT_STORE_URL): Promise<void> {
  if (sub !== 'info') {
    process.stderr.write(`fusion: unknown store command "${sub ?? ''}" (use: fusion store info [--store URL])\n`);
    process.exitCode = 2;
    return;
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    const kind = url.startsWith('sqlite:') ? 'sqlite' : /^redis/.test(url) ? 'redis' : 'unknown';
    process.stdout.write(`store: ${redact(url)}\nkind: ${kind}\nschema version: none (only the PostgreSQL store numbers its migrations)\n`);
    return;
  }
  const { PostgresStore } = await import('../stores/postgres/store.js');
  const { LATEST_VERSION } = await import('../stores/postgres/migrate.js');
  const store = await PostgresStore.open(url, { migrate: false });
  try {
    const version = await store.schemaVersion();
    const latest = LATEST_VERSION();
    const state = version === 0 ? 'not created yet (made at the first open)'
      : version < latest ? `behind: ${latest - version} migration(s) to apply at the next open`
      : version > latest ? 'ahead of this build (a newer Fusion migrated it)'
      : 'up to date';
    process.stdout.write(`store: ${redact(url)}\nkind: postgres\nschema: ${store.schema}\n` +
      `schema version: ${version} (this build: ${latest}; ${state})\n`);
  } finally {
    await store.close();
  }
}
