// Access without a key (no keys configured, open on loopback; or a trusted network) is granted by
// where a request comes from, and a browser there carries any web page's requests too: form and
// text/plain posts go cross-site without a preflight, and a page whose name was re-pointed at this
// server (DNS rebinding) is same-origin with itself and reads the answers. So such requests must
// not come from another site (Origin, Sec-Fetch-Site) and must name this server (Host). A keyed
// request needs none of this: browsers never add a key by themselves.
import { isIP } from 'node:net';
import { apiError } from './errors.js';

type Headers = Record<string, string | string[] | undefined>;

/** A Host value's name and port: `[::1]:8002`, `localhost:8002`, `example.com`; lowercase, without a final dot. */
function splitHost(host: string): { name: string; port: string } {
  let name = host;
  let port = '';
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    name = end < 0 ? host.slice(1) : host.slice(1, end);
    if (end >= 0 && host[end + 1] === ':') port = host.slice(end + 2);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0 && colon === host.lastIndexOf(':')) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
  }
  name = name.toLowerCase();
  return { name: name.endsWith('.') ? name.slice(0, -1) : name, port };
}

/** Allowed host names as configured (FUSION_ALLOWED_HOSTS): names only, any case. */
export function parseAllowedHosts(list: readonly string[], source = 'FUSION_ALLOWED_HOSTS'): string[] {
  return list.map((raw) => raw.trim()).filter(Boolean).map((h) => {
    if (!/^[a-z0-9_.-]+$/i.test(h)) throw new Error(`${source}: "${h}" is not a host name (e.g. fusion.internal; IP addresses need no entry)`);
    return splitHost(h).name;
  });
}

export class BrowserGuard {
  private readonly hosts: ReadonlySet<string>;

  /** `allowedHosts`: names besides localhost that keyless requests may give as Host; IP addresses always may (no DNS to re-point). */
  constructor(allowedHosts: readonly string[] = []) {
    this.hosts = new Set(['localhost', ...parseAllowedHosts(allowedHosts, 'allowedHosts')]);
  }

  /**
   * Throws 403 for a request let in without a key that a page of another site sent, or that a
   * browser sent naming another host. Only a browser's request is held to the host names: a
   * rebinding page runs in one, and every current browser marks its requests (Sec-Fetch-*, Origin),
   * while the original clients (curl, Python) on a trusted network call the hub by whatever name
   * their network gives it (a compose or Kubernetes service name).
   */
  check(headers: Headers): void {
    const host = typeof headers.host === 'string' ? headers.host : undefined;
    const at = host === undefined ? undefined : splitHost(host);
    const browser = headers.origin !== undefined || headers['sec-fetch-site'] !== undefined || headers['sec-fetch-mode'] !== undefined;
    if (browser && at !== undefined && isIP(at.name) === 0 && !this.hosts.has(at.name)) {
      throw apiError(403, 'host_not_allowed', `requests without an API key must name this server by an IP address, localhost or a name in FUSION_ALLOWED_HOSTS, not "${at.name}" (a page whose name was pointed here could read the answers): send an API key, or add the name`, {
        field: 'host', host: at.name,
      });
    }
    const origin = headers.origin;
    if (typeof origin === 'string' && !sameOrigin(origin, at)) throw crossSite('origin', `Origin: ${origin}`);
    // Sent without an Origin too (a link followed, an image): another site, or another port of this one.
    const site = headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw crossSite('sec-fetch-site', `Sec-Fetch-Site: ${site}`);
  }
}

const crossSite = (field: string, what: string) =>
  apiError(403, 'cross_site_request', `a page of another site (${what}) may not use this server without an API key: open the page from this server, or send an API key`, { field });

/** The Origin is this server as the request addressed it (Host): same name and port, http or https. */
function sameOrigin(origin: string, host: { name: string; port: string } | undefined): boolean {
  if (host === undefined) return false;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false; // "null": a sandboxed frame, a file, a redirect across sites
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  const fallback = u.protocol === 'https:' ? '443' : '80';
  const o = splitHost(u.host);
  return o.name === host.name && (o.port || fallback) === (host.port || fallback);
}
