// The dry-run provider: the default of every channel while no provider is configured. The job
// completes with provider `dry-run` and a generated message id; the caller logs what would have gone.
import { randomUUID } from 'node:crypto';
import type { Provider, SendResult } from './provider.js';

export const DRY_RUN = 'dry-run';

export function dryRunProvider<M>(onSend?: (message: M) => void): Provider<M> {
  return {
    name: DRY_RUN,
    type: DRY_RUN,
    async send(message: M): Promise<SendResult> {
      onSend?.(message);
      return { messageId: `dry-${randomUUID()}`, status: 'sent' };
    },
  };
}
