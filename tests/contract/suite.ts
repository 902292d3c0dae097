// The Store contract, by area. Every store runs every area (tests/contract/{sqlite,redis,postgres}.test.ts);
// what each area checks is documented in src/core/store.ts and docs/architecture.md ("Store contract").
import { describe } from 'node:test';
import type { StoreFactory } from './harness.js';
import { insertArea } from './areas/insert.js';
import { claimFinishArea } from './areas/claim-finish.js';
import { raceArea } from './areas/race.js';
import { operatorArea } from './areas/operator.js';
import { listsArea } from './areas/lists.js';
import { schedulesArea } from './areas/schedules.js';
import { eventsArea } from './areas/events.js';
import { capabilitiesArea } from './areas/capabilities.js';
import { stateRulesArea } from './areas/state-rules.js';

export type { StoreHarness, StoreFactory } from './harness.js';

export function storeContract(name: string, make: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    insertArea(make);
    claimFinishArea(make);
    raceArea(make);
    operatorArea(make);
    stateRulesArea(make);
    listsArea(make);
    schedulesArea(make);
    eventsArea(make);
    capabilitiesArea(make);
  });
}
