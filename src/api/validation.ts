// Three validators. The native /v1 bodies are strict (no type coercion). Query strings and path
// params coerce ("2" → 2): URLs only carry strings. The compatibility bodies (the original Fusion,
// /api/tasks, /remind_me) are validated without coercion too, so the handler gets the payload
// exactly as sent (`contact: 9876543210` stays a number, `to: ["a@x.io"]` stays a list); only
// their top-level envelope fields (priority, delay, repeat, consent, ...) are read from strings,
// because form posts carry nothing else. Nothing inside `payload` is ever rewritten; an object the
// schema marks `x-read-scalars` (/remind_me's notification_metadata, a pydantic model that coerced
// "1" to 1) has its declared scalar fields read from strings too.
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { isPlainObject } from '../core/plain-object.js';

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

type Schema = Record<string, unknown>;
type Scalar = 'integer' | 'number' | 'boolean';

/** The scalar type a top-level field must have, when it is a plain integer, number or boolean (not an alternative). */
function scalarType(prop: unknown): Scalar | null {
  const t = (prop as Schema | undefined)?.type;
  const types = Array.isArray(t) ? t.filter((x) => x !== 'null') : [t];
  return types.length === 1 && (types[0] === 'integer' || types[0] === 'number' || types[0] === 'boolean') ? (types[0] as Scalar) : null;
}

/** Top-level fields of a body schema (of each object alternative too) that hold a plain scalar. */
export function envelopeScalars(schema: Schema): Map<string, Scalar> {
  const out = new Map<string, Scalar>();
  const visit = (s: Schema | undefined) => {
    if (!s || typeof s !== 'object') return;
    for (const [k, p] of Object.entries((s.properties ?? {}) as Schema)) {
      const t = scalarType(p);
      if (t && !out.has(k)) out.set(k, t);
    }
    for (const alt of [...((s.anyOf ?? []) as Schema[]), ...((s.oneOf ?? []) as Schema[])]) visit(alt);
  };
  visit(schema);
  return out;
}

const NUMERIC = /^\s*-?\d+(\.\d+)?\s*$/;

/** A form string (or 1/0 for booleans) as the scalar its field needs; anything else is returned unchanged for the schema to refuse. */
export function readScalar(v: unknown, t: Scalar): unknown {
  if (t === 'boolean') {
    if (v === 1 || v === 0) return v === 1;
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : v;
  }
  if (typeof v !== 'string' || !NUMERIC.test(v)) return v;
  const n = Number(v);
  return t === 'integer' && !Number.isInteger(n) ? v : n;
}

/**
 * Object fields (of the body's top level) marked `x-read-scalars`: a pydantic model's, whose own
 * integer, number and boolean fields its system read from strings ("1" for 1), so they are here too.
 */
function nestedScalars(schema: Schema): Map<string, Map<string, Scalar>> {
  const out = new Map<string, Map<string, Scalar>>();
  for (const [k, p] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    if (p?.['x-read-scalars'] === true) out.set(k, envelopeScalars(p));
  }
  return out;
}

function readScalars(o: Record<string, unknown>, scalars: Map<string, Scalar>): void {
  for (const [k, t] of scalars) if (o[k] !== undefined) o[k] = readScalar(o[k], t);
}

/** A body validator for the compatibility routes: envelope scalars read from strings, the rest checked as sent. */
export function compatValidator(ajv: Ajv, schema: Schema): ValidateFunction {
  const inner = ajv.compile(schema);
  const scalars = envelopeScalars(schema);
  const nested = nestedScalars(schema);
  const fn = ((data: unknown) => {
    if ((scalars.size > 0 || nested.size > 0) && isPlainObject(data)) {
      readScalars(data, scalars);
      for (const [k, inner] of nested) if (isPlainObject(data[k])) readScalars(data[k], inner);
    }
    const ok = inner(data);
    fn.errors = inner.errors;
    return ok;
  }) as ValidateFunction;
  return fn;
}

export function installValidators(app: FastifyInstance): void {
  const strict = makeAjv(false);
  const lenient = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart, url }) => {
    if (httpPart !== 'body') return lenient.compile(schema as object) as ReturnType<Ajv['compile']>;
    if (url.startsWith('/v1/')) return strict.compile(schema as object) as ReturnType<Ajv['compile']>;
    return compatValidator(strict, schema as Schema) as ReturnType<Ajv['compile']>;
  });
}
