// A real store seen through a wrapper: tests count, delay, fail or hide calls by name without a mock.
import type { Store, StoreCapabilities } from '../../src/core/store.js';

type Call = (...args: unknown[]) => unknown;

/**
 * The store with each method (by its name, e.g. 'finishJobs') and each capability function (by
 * 'capabilities.<name>', e.g. 'capabilities.finishAndClaim') passed through `wrap`. `wrap` answers
 * the function to call instead; for a capability, undefined hides it (the store looks like one
 * without it).
 */
export function interceptStore(store: Store, wrap: (name: string, call: Call) => Call | undefined): Store {
  const capabilities: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(store.capabilities)) {
    if (typeof v !== 'function') capabilities[name] = v;
    else {
      const w = wrap(`capabilities.${name}`, v as Call);
      if (w) capabilities[name] = w;
    }
  }
  const caps = capabilities as StoreCapabilities;
  return new Proxy(store, {
    get(t, k) {
      if (k === 'capabilities') return caps;
      const v = Reflect.get(t, k);
      if (typeof v !== 'function') return v;
      const bound = (v as Call).bind(t);
      return typeof k === 'string' ? (wrap(k, bound) ?? bound) : bound;
    },
  });
}
