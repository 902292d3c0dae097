// The outgoing guard for connections undici does not make (APNs over node:http2): resolve the host,
// check every address as the guard's dispatcher would (a trusted host name passes; otherwise private,
// loopback, link-local and reserved addresses are refused unless allowed), and connect to the checked
// address itself, so a DNS answer that changes between check and connect cannot slip through.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkServerIdentity as defaultIdentity, connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { OutgoingRefused, type OutgoingGuard } from '../http/guard.js';

export interface CheckedAddress {
  address: string;
  family: number;
}

/** The address to dial for `host`, or OutgoingRefused. */
export async function checkedAddress(guard: OutgoingGuard, host: string): Promise<CheckedAddress> {
  const h = host.replace(/^\[|\]$/g, '');
  const literal = isIP(h);
  if (literal) {
    if (guard.hostAllowed(h)) return { address: h, family: literal };
    const why = guard.refusal(h);
    if (why) throw new OutgoingRefused(`refused to reach ${h}: ${why}`);
    return { address: h, family: literal };
  }
  const all = await lookup(h, { all: true });
  if (all.length === 0) throw new OutgoingRefused(`refused to reach ${h}: it resolves to no address`);
  if (guard.hostAllowed(h)) return all[0]!;
  const ok = all.find((a) => guard.refusal(a.address) === null);
  if (!ok) throw new OutgoingRefused(`refused to reach ${h}: it resolves to ${all.map((a) => a.address).join(', ')} (${guard.refusal(all[0]!.address)})`);
  return ok;
}

/**
 * A TLS socket to `host:port` through the guard, speaking h2 (for http2.connect's createConnection).
 * The certificate is checked against the host name (SNI too), not the address dialled.
 */
export async function guardedTlsConnect(guard: OutgoingGuard, host: string, port: number, tls: ConnectionOptions): Promise<TLSSocket> {
  const { address } = await checkedAddress(guard, host);
  const name = host.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      ...tls,
      host: address,
      port,
      ALPNProtocols: ['h2'],
      // SNI takes names only; for an IP literal the certificate is checked against the IP.
      ...(isIP(name) ? {} : { servername: name }),
      checkServerIdentity: (_h, cert) => (tls.checkServerIdentity ?? defaultIdentity)(name, cert),
    });
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}
