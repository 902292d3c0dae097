// A bound on the work one trigger search may do. rrule.js scans a rule that never matches
// (FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30) day by day up to year 9999, seconds of CPU, and some
// BYHOUR/BYMINUTE/BYSECOND combinations with an INTERVAL that never lines up loop forever inside
// one step. Neither has a hook, so the steps are metered where rrule reads its options (see
// meterRule in triggers.ts) and a search that runs past its budget throws a 400 instead.
import { FusionError } from './errors.js';

/**
 * Work units one search may spend (one unit is one to three microseconds of CPU: a day skipped by a
 * sub-daily rule, a fifth of a day of a DAILY one, an occurrence looked at). 25,000 covers a daily
 * scan of about 13 years, a yearly one of thousands. Measured: 30-65 ms of CPU to refuse a rule
 * that never matches (it took 8-15 s, or forever, before the budget).
 */
export const SEARCH_BUDGET = 25_000;
/** What a whole request or firing (many searches: a preview of up to 1000 times) may spend. */
export const REQUEST_BUDGET = 2 * SEARCH_BUDGET;

/** A search ran out of budget: a 400 naming the trigger field. */
export class SearchExhausted extends FusionError {
  constructor(field: string, budget: number) {
    super('invalid_schedule', `${field} finds no occurrence within the search budget (${budget} steps): the rule never matches, or matches too rarely to plan`, { field, budget }, 400);
  }
}

export class SearchBudget {
  private left: number;
  /** Set while metered: an inner search charges its own budget and every enclosing one. */
  parent: SearchBudget | null = null;
  constructor(readonly total = SEARCH_BUDGET, readonly field = 'trigger') {
    this.left = total;
  }

  get spent(): number {
    return this.total - this.left;
  }

  get exhausted(): boolean {
    return this.left < 0;
  }

  spend(n: number): void {
    for (let b: SearchBudget | null = this; b; b = b.parent) {
      b.left -= n;
      if (b.left < 0) throw new SearchExhausted(this.field, b.total);
    }
  }
}

let active: SearchBudget | null = null;

/** Charge the budget of the search in progress (no-op outside one). */
export function charge(n: number): void {
  active?.spend(n);
}

/**
 * Run `fn` charging `budget` (default: a fresh SEARCH_BUDGET). Inside another metered call, the
 * enclosing budgets are charged too, so a request of many searches is bounded as a whole.
 */
export function metered<T>(fn: () => T, budget?: SearchBudget, field = 'trigger'): T {
  const outer = active;
  const b = budget ?? new SearchBudget(SEARCH_BUDGET, field);
  b.parent = outer;
  active = b;
  try {
    return fn();
  } finally {
    active = outer;
    b.parent = null;
  }
}
