// API keys with roles. Keys are kept only as SHA-256 digests and compared in constant time, so
// neither timing nor a heap dump gives a key away.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { apiError } from './errors.js';
import type { Role } from './validation.js';

export type KeyRole = Exclude<Role, 'public'>;
export const KEY_ROLES: readonly KeyRole[] = ['send', 'read', 'admin'];

export interface ApiKey {
  /** A label for logs and metrics; never the key itself. */
  name: string;
  roles: KeyRole[];
  digest: Buffer;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function parseRoles(s: string, where: string): KeyRole[] {
  const roles = s.split(/[+|]/).map((r) => r.trim()).filter(Boolean);
  if (roles.length === 0) throw new Error(`${where}: a key needs at least one role (send, read, admin)`);
  for (const r of roles) if (!KEY_ROLES.includes(r as KeyRole)) throw new Error(`${where}: unknown role "${r}" (use send, read, admin)`);
  return roles as KeyRole[];
}

/** `key1:admin,key2:send+read` — roles joined by + or |. */
export function parseKeys(spec: string, source = 'FUSION_API_KEYS'): ApiKey[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.lastIndexOf(':');
      if (at <= 0) throw new Error(`${source}: entry ${i + 1} must look like KEY:ROLE[+ROLE]`);
      const key = entry.slice(0, at);
      if (key.length < 16) throw new Error(`${source}: entry ${i + 1}: keys must be at least 16 characters`);
      return { name: `${source.toLowerCase()}#${i + 1}`, roles: parseRoles(entry.slice(at + 1), source), digest: sha256(key) };
    });
}

/**
 * A JSON file: `{ "keys": [ { "name": "billing", "key": "...", "roles": ["send"] },
 *                           { "name": "ops", "sha256": "<hex digest of the key>", "roles": ["admin"] } ] }`.
 * `sha256` lets the file hold no usable secret.
 */
export function loadKeysFile(path: string): ApiKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`API keys file ${path}: ${(e as Error).message}`);
  }
  const list = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error(`API keys file ${path}: expected { "keys": [...] }`);
  return list.map((k: Record<string, unknown>, i) => {
    const where = `API keys file ${path}, key ${i + 1}`;
    const roles = Array.isArray(k.roles) ? parseRoles(k.roles.join('+'), where) : parseRoles(String(k.roles ?? ''), where);
    let digest: Buffer;
    if (typeof k.key === 'string') {
      if (k.key.length < 16) throw new Error(`${where}: keys must be at least 16 characters`);
      digest = sha256(k.key);
    } else if (typeof k.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(k.sha256)) {
      digest = Buffer.from(k.sha256, 'hex');
    } else throw new Error(`${where}: give "key" or "sha256" (64 hex digits)`);
    return { name: typeof k.name === 'string' && k.name ? k.name : `file#${i + 1}`, roles, digest };
  });
}

/** Keys from FUSION_API_KEYS and FUSION_API_KEYS_FILE (or an explicit file). */
export function keysFromEnv(env: NodeJS.ProcessEnv = process.env, file?: string): ApiKey[] {
  const keys: ApiKey[] = [];
  if (env.FUSION_API_KEYS) keys.push(...parseKeys(env.FUSION_API_KEYS));
  const path = file ?? env.FUSION_API_KEYS_FILE;
  if (path) keys.push(...loadKeysFile(path));
  return keys;
}

export function allows(roles: readonly KeyRole[], needed: Role): boolean {
  if (needed === 'public') return true;
  return roles.includes('admin') || roles.includes(needed as KeyRole);
}

export class Authenticator {
  constructor(private readonly keys: readonly ApiKey[]) {}

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The key matching `presented`, or null. Every configured key is compared, whatever matches first. */
  find(presented: string): ApiKey | null {
    const d = sha256(presented);
    let found: ApiKey | null = null;
    for (const k of this.keys) if (timingSafeEqual(d, k.digest) && found === null) found = k;
    return found;
  }

  /** Check a request's credentials for a route needing `role`. Throws 401/403 as FusionError. */
  check(headers: Record<string, string | string[] | undefined>, role: Role): ApiKey | null {
    if (!this.enabled || role === 'public') return null;
    const presented = credentialOf(headers);
    if (presented === null) {
      throw apiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key> or X-API-Key: <key>');
    }
    const key = this.find(presented);
    if (!key) throw apiError(401, 'unauthorized', 'the API key is not valid');
    if (!allows(key.roles, role)) {
      throw apiError(403, 'forbidden', `this key lacks the "${role}" role`, { needed: role, roles: key.roles });
    }
    return key;
  }
}

function credentialOf(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!.trim();
  }
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.length > 0) return x.trim();
  return null;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** Refuse to expose an API without keys. Returns a warning to log when running open on loopback. */
export function checkBind(host: string, keyCount: number): { warning?: string } {
  if (keyCount > 0) return {};
  if (!isLoopback(host)) {
    throw new Error(
      `refusing to listen on ${host} without API keys: set FUSION_API_KEYS="KEY:admin" (or FUSION_API_KEYS_FILE), or bind to 127.0.0.1`,
    );
  }
  return { warning: `no API keys configured: the API is open to anyone on this machine and listens on ${host} only` };
}
