// The suppression list: addresses that bounced for good or complained, kept in the store's shared
// state so every worker stops sending to them at once. One key per address (lowercased):
//   email:suppressed:<address> → { reason, at, provider, detail }
// An entry lasts `ttlMs` (default one year: a mailbox that bounced may come back; a complaint is
// honoured for as long). Stores without SharedState keep no list: nothing is suppressed.
import type { SharedState } from '../../core/store.js';
import { addressKey } from './address.js';

export const DEFAULT_SUPPRESSION_TTL_MS = 365 * 24 * 3600_000;

export interface Suppression {
  address: string;
  reason: 'bounce' | 'complaint' | 'manual';
  /** When it was suppressed (epoch ms). */
  at: number;
  provider?: string;
  /** The bounce type/subtype or complaint feedback type, the diagnostic code. */
  detail?: string;
}

const key = (address: string) => `email:suppressed:${addressKey(address)}`;

export class SuppressionList {
  constructor(private readonly shared: SharedState | undefined, private readonly ttlMs = DEFAULT_SUPPRESSION_TTL_MS) {}

  get enabled(): boolean {
    return this.shared !== undefined;
  }

  async add(entry: Suppression, now: number): Promise<void> {
    if (!this.shared) return;
    await this.shared.put(key(entry.address), { ...entry, address: addressKey(entry.address) }, this.ttlMs, now);
  }

  async get(address: string, now: number): Promise<Suppression | null> {
    return this.shared ? this.shared.get<Suppression>(key(address), now) : null;
  }

  /** Lift a suppression (an operator's decision): the entry expires at once. */
  async remove(address: string, now: number): Promise<void> {
    if (!this.shared) return;
    await this.shared.put(key(address), null, 1, now);
  }

  /** The suppressed ones among addresses, by address. */
  async check(addresses: string[], now: number): Promise<Map<string, Suppression>> {
    const out = new Map<string, Suppression>();
    if (!this.shared || addresses.length === 0) return out;
    const found = await Promise.all(addresses.map((a) => this.get(a, now)));
    addresses.forEach((a, i) => {
      const s = found[i];
      if (s) out.set(a, s);
    });
    return out;
  }
}
