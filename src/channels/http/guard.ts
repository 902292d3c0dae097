// The outgoing-HTTP guard: every request Fusion makes to a URL it did not choose itself (webhooks,
// callbacks, attachments, provider endpoints) goes through a dispatcher whose connector checks the
// address it is about to connect to. The check runs on the resolved address at connect time, so a
// hostname that resolves to 127.0.0.1 is refused, and so is each hop of a redirect (every new
// connection passes through the same connector).
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent, buildConnector, type Dispatcher } from 'undici';

/** Ranges no outgoing request may reach unless allowed: loopback, private, link-local, metadata, CGNAT, ... */
const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const BLOCKED_V6: [string, number][] = [
  // Reserved by the IETF: unspecified, loopback, the deprecated IPv4-compatible form (::7f00:1 is
  // 127.0.0.1), IPv4-translated and other forms no public host has (::ffff:0:7f00:1). IPv4-mapped
  // addresses are judged by the IPv4 address they carry, before this list.
  ['::', 8],
  ['64:ff9b::', 96], // NAT64 (embeds IPv4)
  ['64:ff9b:1::', 48], // NAT64 for local use (RFC 8215)
  ['2001::', 32], // Teredo (embeds an IPv4 address, obfuscated)
  ['2002::', 16], // 6to4 (deprecated; embeds IPv4: 2002:7f00:1:: is 127.0.0.1's)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique-local (includes fd00:ec2::254, a metadata address)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

// One list per family: node's BlockList also matches an IPv4 address against IPv6 subnets as its
// mapped form (::ffff:a.b.c.d), which lies inside ::/8.
const blocked = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [net, prefix] of BLOCKED_V4) blocked.ipv4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of BLOCKED_V6) blocked.ipv6.addSubnet(net, prefix, 'ipv6');

/** How long a connection may take to open (a guarded dispatcher's default). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Trusted internal targets: CIDRs, host patterns (`hooks.internal`, `*.corp.example`), and regular expressions on the host. */
export interface OutgoingPolicy {
  allow?: string[];
  /** The original Fusion's whitelist regex, matched against the whole host name. */
  allowPattern?: string;
  /** Connect timeout in ms (default 10 s). */
  connectTimeoutMs?: number;
}

export class OutgoingRefused extends Error {
  override name = 'OutgoingRefused';
  readonly code = 'outgoing_refused';
  readonly retryable = false;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:XXXX:XXXX), else null. */
function mappedV4(address: string): string | null {
  const m = /^::ffff:(?:0{1,4}:)?(.+)$/i.exec(address);
  if (!m) return null;
  const tail = m[1]!;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return null;
  const a = parseInt(hex[1]!, 16);
  const b = parseInt(hex[2]!, 16);
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

export class OutgoingGuard {
  private readonly allowedNets = new BlockList();
  private readonly hostPatterns: RegExp[] = [];
  /** How long its dispatchers wait for a connection to open (`outgoing.connectTimeoutMs`). */
  readonly connectTimeoutMs: number;

  constructor(policy: OutgoingPolicy = {}) {
    this.connectTimeoutMs = policy.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    for (const entry of policy.allow ?? []) {
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      const family = cidr ? isIP(cidr[1]!) : isIP(entry);
      if (family) {
        const type = family === 4 ? 'ipv4' : 'ipv6';
        if (cidr && Number(cidr[2]) > (family === 4 ? 32 : 128)) throw new TypeError(`outgoing allow entry "${entry}": an IPv${family} prefix is at most /${family === 4 ? 32 : 128}`);
        if (cidr) this.allowedNets.addSubnet(cidr[1]!, Number(cidr[2]), type);
        else this.allowedNets.addAddress(entry, type);
        continue;
      }
      if (!/^[A-Za-z0-9*.-]+$/.test(entry)) throw new TypeError(`outgoing allow entry "${entry}" is neither a CIDR, an address nor a host pattern`);
      const re = entry.toLowerCase().replace(/[.]/g, '\\.').replace(/\*/g, '[a-z0-9-]+(?:\\.[a-z0-9-]+)*');
      this.hostPatterns.push(new RegExp(`^${re}$`));
    }
    // Matched against the whole host name (as Python's re.fullmatch): unanchored, a pattern written
    // for `hooks.internal` also trusted `hooks.internal.evil.example`, and any address it resolves to.
    if (policy.allowPattern) this.hostPatterns.push(new RegExp(`^(?:${policy.allowPattern})$`, 'i'));
  }

  /** Hosts the operator trusts by name: any address they resolve to is allowed. */
  hostAllowed(host: string): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    return this.hostPatterns.some((re) => re.test(h));
  }

  /** Why an address may not be reached, or null when it may. */
  refusal(address: string): string | null {
    const family = isIP(address);
    if (family === 0) return `"${address}" is not an IP address`;
    const v4 = family === 6 ? mappedV4(address) : address;
    const [addr, type] = v4 ? [v4, 'ipv4' as const] : [address, 'ipv6' as const];
    if (this.allowedNets.check(addr, type)) return null;
    // IPv4-mapped IPv6 addresses are judged by the IPv4 address they carry, so ::ffff:127.0.0.1 is loopback.
    if (blocked[type].check(addr, type)) return `${address} is a private, loopback, link-local or reserved address`;
    return null;
  }

  /** Throws OutgoingRefused when the URL's scheme or literal address is not allowed (a quick check before any I/O). */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutgoingRefused(`"${raw}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutgoingRefused(`only http and https URLs are allowed (got ${url.protocol})`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.hostAllowed(host)) {
      const why = this.refusal(host);
      if (why) throw new OutgoingRefused(`refused to reach ${url.host}: ${why}`);
    }
    return url;
  }

  /** A dispatcher whose every connection is checked on the address actually dialled. */
  dispatcher(opts: { connectTimeoutMs?: number } = {}): Dispatcher {
    const lookup = (hostname: string, options: object, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        const trusted = this.hostAllowed(hostname);
        const ok = trusted ? addresses : addresses.filter((a) => this.refusal(a.address) === null);
        if (ok.length === 0) {
          const why = this.refusal(addresses[0]!.address);
          return callback(new OutgoingRefused(`refused to reach ${hostname}: it resolves to ${addresses.map((a) => a.address).join(', ')} (${why})`), []);
        }
        if ((options as { all?: boolean }).all) return callback(null, ok);
        callback(null, ok[0]!.address, ok[0]!.family);
      });
    };
    const base = buildConnector({ lookup, timeout: opts.connectTimeoutMs ?? this.connectTimeoutMs } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (options, callback) => {
      const host = options.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !this.hostAllowed(host)) {
        const why = this.refusal(host);
        if (why) return callback(new OutgoingRefused(`refused to reach ${host}: ${why}`), null);
      }
      return base(options, callback);
    };
    return new Agent({ connect });
  }
}

/** The OutgoingRefused behind a fetch failure (undici wraps connector errors in a TypeError's cause), if any. */
export function refusedCause(err: unknown): OutgoingRefused | null {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as { cause?: unknown }, depth++) {
    if (e instanceof OutgoingRefused) return e;
  }
  return null;
}
