// API keys with roles. Keys are kept only as SHA-256 digests and compared in constant time, so
// neither timing nor a heap dump gives a key away.
import { createHash } from 'node:crypto';
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { apiError } from './errors.js';
import { BrowserGuard, parseAllowedHosts } from './browser-guard.js';
import type { Role } from './validation.js';

export type KeyRole = Exclude<Role, 'public'>;
export const KEY_ROLES: readonly KeyRole[] = ['send', 'read', 'admin'];

export interface ApiKey {
  /** A label for logs and metrics; never the key itself. */
  name: string;
  roles: KeyRole[];
  digest: Buffer;
}

// crypto.hash (Node 20.12+) digests in one call, without a Hash object: about half the cost of
// createHash().update().digest() on the per-request key check.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer' | 'latin1') => Buffer | string }).hash;
const sha256 = oneShot ? (s: string) => oneShot('sha256', s, 'buffer') as Buffer : (s: string) => createHash('sha256').update(s, 'utf8').digest();
/**
 * The digest of a presented key as a 32-character latin1 string: a Buffer's backing store is
 * allocated and freed outside the JS heap (malloc, then the array-buffer sweeper), which cost more
 * than the hash itself on every request (~2 µs against ~0.7 µs for the string, per check).
 */
const sha256Latin1 = oneShot ? (s: string) => oneShot('sha256', s, 'latin1') as string : (s: string) => createHash('sha256').update(s, 'utf8').digest().toString('latin1');

/** Equal digests, in time that depends only on their length (every character is compared). */
function sameDigest(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

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

/**
 * Networks whose keyless requests are let in (old clients send no key) with one role. They reach the
 * compatibility routes only, unless no key is configured at all (then every route, for them alone).
 */
export interface TrustedNetworks {
  /** CIDRs (10.0.0.0/8, fd00::/8) or single addresses. */
  cidrs: string[];
  /** The role trusted requests have; a list gives several (e.g. ['send', 'read'] to enqueue and read status). */
  role: KeyRole | KeyRole[];
}

/** The name a trusted-network request has in logs and metrics, in place of a key name. */
export const TRUSTED_NETWORK = 'trusted-network';

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:10.1.2.3 or ::ffff:a01:203), else the address as given. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(?:0{1,4}:)?(.+)$/i.exec(address);
  if (!m) return address;
  const tail = m[1]!;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return address;
  const a = parseInt(hex[1]!, 16);
  const b = parseInt(hex[2]!, 16);
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

/** The CIDR list as a BlockList; a bad entry throws, naming it. */
export function trustedList(cidrs: readonly string[], source = 'FUSION_TRUSTED_NETWORKS'): BlockList {
  const list = new BlockList();
  for (const raw of cidrs) {
    const entry = raw.trim();
    const m = /^(.+?)(?:\/(\d{1,3}))?$/.exec(entry);
    const addr = m ? plainAddress(m[1]!) : '';
    const family = isIP(addr);
    const prefix = m?.[2] === undefined ? undefined : Number(m[2]);
    if (!family || (prefix !== undefined && prefix > (family === 4 ? 32 : 128))) {
      throw new Error(`${source}: "${entry}" is not a CIDR (e.g. 10.0.0.0/8) or an IP address`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** FUSION_TRUSTED_NETWORKS (comma-separated CIDRs) and FUSION_TRUSTED_ROLE (send, read or admin, or send+read; default send). */
export function trustedFromEnv(env: NodeJS.ProcessEnv = process.env): TrustedNetworks | undefined {
  const cidrs = (env.FUSION_TRUSTED_NETWORKS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (cidrs.length === 0) return undefined;
  trustedList(cidrs);
  const roles = parseRoles(env.FUSION_TRUSTED_ROLE?.trim() || 'send', 'FUSION_TRUSTED_ROLE');
  return { cidrs, role: roles.length === 1 ? roles[0]! : roles };
}

/** FUSION_ALLOWED_HOSTS (comma-separated host names keyless requests may name besides IP addresses and localhost). */
export function allowedHostsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseAllowedHosts((env.FUSION_ALLOWED_HOSTS ?? '').split(','));
}

/** Where a request comes from and what it asks for, as the trusted-network rule needs it. */
export interface RequestSource {
  /**
   * The connection (req.socket): its remoteAddress is the peer itself, never a forwarded header a
   * client could write. Read only for a keyless request (a keyed one pays no address lookup).
   */
  peer?: { readonly remoteAddress?: string };
  /** A compatibility route (the original Fusion's, /api/tasks, /remind_me). */
  compat?: boolean;
}

export class Authenticator {
  private readonly trustedNets: BlockList | null;
  private readonly trustedKey: ApiKey | null;
  /** The keys as given to the constructor: a copy, so that they stay what `digests` and `verified` were made from. */
  private readonly keys: readonly ApiKey[];
  /** Each key's digest as a latin1 string, in the order of `keys`. */
  private readonly digests: string[];
  /**
   * `Bearer <key>` header values whose key was found, with that key: a client sends the same value
   * on every request, and reading it, its SHA-256 and the digest comparisons were ~8.4k instructions
   * of each POST /v1/jobs (crypto.hash's call alone ~5k; this lookup ~0.8k, callgrind). Only a
   * value that found a key goes in, so it holds at most one entry per key, whatever clients send.
   * The keys never change for an Authenticator (copied above; a server given other keys makes
   * another one), so no entry outlives its key.
   * The trade: a key that has been used stays in this process's heap as text, where before only
   * its digest did (a request's header string was garbage soon after).
   */
  private readonly verified = new Map<string, ApiKey>();
  /** Requests let in without a key (no keys at all, or a trusted network) must not come from another site's page. */
  private readonly browsers: BrowserGuard;

  /** `allowedHosts`: host names besides IP addresses and localhost that requests let in without a key may name. */
  constructor(keys: readonly ApiKey[], readonly trusted?: TrustedNetworks, allowedHosts: readonly string[] = []) {
    this.browsers = new BrowserGuard(allowedHosts);
    this.keys = [...keys];
    this.digests = this.keys.map((k) => k.digest.toString('latin1'));
    this.trustedNets = trusted && trusted.cidrs.length > 0 ? trustedList(trusted.cidrs, 'trustedNetworks') : null;
    const roles = trusted ? parseRoles([trusted.role].flat().join('+'), 'trustedNetworks.role') : [];
    this.trustedKey = this.trustedNets ? { name: TRUSTED_NETWORK, roles, digest: sha256(`${TRUSTED_NETWORK}:${roles.join('+')}`) } : null;
  }

  get enabled(): boolean {
    return this.keys.length > 0 || this.trustedNets !== null;
  }

  /** The address is in a trusted network. */
  isTrusted(address: string | undefined): boolean {
    if (!this.trustedNets || !address) return false;
    const a = plainAddress(address);
    const family = isIP(a);
    return family !== 0 && this.trustedNets.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** The key matching `presented`, or null. Every configured key is compared, whatever matches first. */
  find(presented: string): ApiKey | null {
    const d = sha256Latin1(presented);
    let found: ApiKey | null = null;
    for (let i = 0; i < this.keys.length; i++) if (sameDigest(d, this.digests[i]!) && found === null) found = this.keys[i]!;
    return found;
  }

  /** Check a request's credentials for a route needing `role`. Throws 401/403 as FusionError. */
  check(headers: Record<string, string | string[] | undefined>, role: Role, source: RequestSource = {}): ApiKey | null {
    if (role === 'public') return null;
    if (!this.enabled) {
      this.browsers.check(headers);
      return null;
    }
    const auth = headers.authorization;
    const known = typeof auth === 'string' ? this.verified.get(auth) : undefined;
    if (known !== undefined) return this.allowed(known, role);
    const presented = this.keys.length > 0 ? credentialOf(headers) : null;
    if (presented === null) {
      // Keyless: a trusted network reaches the compatibility routes (every route when no key exists at all).
      if (this.trustedKey && (source.compat || this.keys.length === 0) && this.isTrusted(source.peer?.remoteAddress)) {
        if (!allows(this.trustedKey.roles, role)) {
          throw apiError(403, 'forbidden', `requests from trusted networks have the role ${this.trustedKey.roles.join('+')}; this route needs "${role}" (FUSION_TRUSTED_ROLE)`, { needed: role, roles: this.trustedKey.roles });
        }
        this.browsers.check(headers);
        return this.trustedKey;
      }
      if (this.keys.length === 0) throw apiError(401, 'unauthorized', 'this address is not in a trusted network (FUSION_TRUSTED_NETWORKS) and no API keys are configured');
      throw apiError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key> or X-API-Key: <key>');
    }
    const key = this.find(presented);
    if (!key) throw apiError(401, 'unauthorized', 'the API key is not valid');
    // The usual form only (what credentialOf read first, as sent): one header value per key.
    if (typeof auth === 'string' && plainBearer(auth) === presented && this.verified.size < this.keys.length) this.verified.set(auth, key);
    return this.allowed(key, role);
  }

  /** `key` if its roles allow `role`; else 403. */
  private allowed(key: ApiKey, role: Role): ApiKey {
    if (!allows(key.roles, role)) {
      throw apiError(403, 'forbidden', `this key lacks the "${role}" role`, { needed: role, roles: key.roles });
    }
    return key;
  }
}

/** `Bearer ` and a token of visible ASCII: the usual header, read without the regex below (same answer). */
function plainBearer(auth: string): string | null {
  if (auth.length < 8 || !auth.startsWith('Bearer ')) return null;
  for (let i = 7; i < auth.length; i++) {
    const c = auth.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return null;
  }
  return auth.slice(7);
}

function credentialOf(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const plain = plainBearer(auth);
    if (plain !== null) return plain;
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

/**
 * Refuse to expose an API without keys. Returns a warning to log when running open on loopback.
 * Trusted networks without keys are a stated policy: a public bind is allowed, and only those
 * networks get in (every route, with the trusted role); everyone else is refused.
 */
export function checkBind(host: string, keyCount: number, trustedCount = 0): { warning?: string } {
  if (keyCount > 0) return {};
  if (trustedCount > 0) {
    return { warning: `no API keys configured: only requests from FUSION_TRUSTED_NETWORKS reach the API (on ${host}); everyone else is refused` };
  }
  if (!isLoopback(host)) {
    throw new Error(
      `refusing to listen on ${host} without API keys: set FUSION_API_KEYS="KEY:admin" (or FUSION_API_KEYS_FILE), or bind to 127.0.0.1`,
    );
  }
  return { warning: `no API keys configured: the API is open to anyone on this machine and listens on ${host} only` };
}
