// Two validators: the native /v1 bodies are strict (no type coercion, unknown fields refused), while
// query strings, path params and the legacy compatibility bodies coerce ("2" → 2), because form
// posts and URLs only carry strings and the old clients relied on that leniency.
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats is CommonJS; its default export lands on .default under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;

// verbose: errors carry their schema, so alternatives can be described in one sentence.
const base: Options = { allErrors: false, useDefaults: true, strict: false, removeAdditional: false, verbose: true };

export function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ ...base, coerceTypes: coerce ? 'array' : false });
  addFormats(ajv);
  return ajv;
}

/** Route config flag: legacy routes take lenient bodies. */
export interface RouteConfig {
  role?: Role;
  legacy?: boolean;
}
export type Role = 'public' | 'send' | 'read' | 'admin';

export function installValidators(app: FastifyInstance): void {
  const strict = makeAjv(false);
  const lenient = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart, url }) => {
    const useStrict = httpPart === 'body' && url.startsWith('/v1/');
    return (useStrict ? strict : lenient).compile(schema as object) as ReturnType<Ajv['compile']>;
  });
}

