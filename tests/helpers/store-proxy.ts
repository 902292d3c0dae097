// A real store seen through a wrapper: tests count, delay, fail or hide calls by name without a mock.
import type { Lease, Outcome, ProgressJob, Store, StoreCapabilities } from '../../src/core/store.js';

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

/**
 * A store that loses one run, as a store never hears again from a worker gone mid-run: the first run
 * `lose` picks (its first progress call, or its outcome of that kind) has that call and every later
 * one carrying its lease token (heartbeats included) refused, so its lease runs out. `lost()` answers
 * that token once picked.
 */
export function losingStore(inner: Store, lose: { progress?: boolean; outcome?: Outcome['kind'] }) {
  const state = { token: null as string | null };
  const gone = () => Promise.reject(new Error('store unreachable: the worker is gone'));
  const isOutcomeCall = (k: string) => k === 'finishJobs' || k === 'capabilities.finishAndClaim';
  const store = interceptStore(inner, (name, call) => {
    if (name === 'heartbeatJobs') return (...args: unknown[]) => ((args[0] as { leases: Lease[] }).leases.some((l) => l.token === state.token) ? gone() : call(...args));
    if (name === 'progressJob') {
      return (...args: unknown[]) => {
        const token = (args[0] as ProgressJob).lease.token;
        if (lose.progress) state.token ??= token;
        return token === state.token ? gone() : call(...args);
      };
    }
    if (!isOutcomeCall(name)) return undefined;
    return (...args: unknown[]) => {
      const outcomes = (args[0] as { outcomes: Outcome[] }).outcomes;
      if (lose.outcome) state.token ??= outcomes.find((o) => o.kind === lose.outcome)?.token ?? null;
      return outcomes.some((o) => o.token === state.token) ? gone() : call(...args);
    };
  });
  return { store, lost: () => state.token };
}
