// Small SQL helpers shared by the PostgreSQL store's modules.

/** A schema name this store accepts: plain lower-case identifiers, so channel and statement names stay simple. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
