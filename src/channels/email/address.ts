// Recipient checks: syntax with the maintained `validator` package (the original's regex refused
// `a+b@x.io` and any TLD longer than three letters), the blacklist (the original's two addresses plus
// config `channels.email.blacklist`), canonical form for comparing (domain lowercased; the local part
// is kept as given, since only the receiving server may fold its case).
import validator from 'validator';

/** The original worker's blacklist: placeholder addresses its users typed when they had none. */
export const DEFAULT_BLACKLIST = ['lifecare1@gmail.com', 'na@na.com'];

export const MAX_ADDRESS = 254;

export function isValidAddress(address: string): boolean {
  return address.length <= MAX_ADDRESS && validator.isEmail(address, { allow_display_name: false, require_tld: true, allow_ip_domain: false, allow_utf8_local_part: true });
}

/** The address trimmed, its domain lowercased. */
export function canonical(address: string): string {
  const a = address.trim();
  const at = a.lastIndexOf('@');
  return at < 0 ? a : `${a.slice(0, at)}@${a.slice(at + 1).toLowerCase()}`;
}

/** Key for lists compared without case (blacklist, suppression): the whole address lowercased. */
export function addressKey(address: string): string {
  return canonical(address).toLowerCase();
}

export class Blacklist {
  private readonly set: Set<string>;
  constructor(extra: string[] = [], includeDefaults = true) {
    this.set = new Set([...(includeDefaults ? DEFAULT_BLACKLIST : []), ...extra].map(addressKey));
  }
  has(address: string): boolean {
    return this.set.has(addressKey(address));
  }
}
