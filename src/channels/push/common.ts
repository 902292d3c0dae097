// What both push adapters do alike: fan a job's tokens out with bounded concurrency, and turn the
// per-token outcomes into the send's answer.
import { ProviderError, type SendResult } from '../provider.js';
import type { PushSendRaw } from './message.js';

/** map() with at most `limit` calls in flight; results in input order. */
export async function eachLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/**
 * A send's answer from its per-token results. When every token failed retryably the provider
 * itself is failing (down, throttling, auth): that is thrown, so the pipeline counts it against the
 * provider's health and the next attempt can fail over. Anything else, including all tokens
 * invalid, is an answer: the channel reads the results.
 */
export function pushFailure(label: string, raw: PushSendRaw): SendResult {
  const { results } = raw;
  const sent = results.filter((r) => r.status === 'sent');
  if (results.length > 0 && results.every((r) => r.status === 'failed' && r.retryable)) {
    const first = results[0]!;
    const after = Math.max(0, ...results.map((r) => r.retryAfterMs ?? 0));
    throw new ProviderError(`${label}: all ${results.length} token(s) failed: ${first.error ?? first.code}`, {
      code: first.code ?? 'provider_error',
      retryable: true,
      raw,
      ...(after > 0 ? { retryAfterMs: after } : {}),
    });
  }
  return { messageId: sent[0]?.messageId ?? 'none', status: sent.length ? 'sent' : 'failed', raw };
}
