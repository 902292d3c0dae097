// Keeps one process.nextTick entry alive for the life of the process, so that V8 keeps the object
// shapes ("maps") every nextTick entry is built with. Imported for its effect, first, by server.ts.
//
// Why: Node 20 builds each entry as `{ [async_id_symbol]: id, [trigger_async_id_symbol]: t,
// callback, args }`. V8 records the shape each computed key is added to; a second shape at a site
// makes it megamorphic for good, and then every entry is built through the runtime
// (Runtime_DefineKeyedOwnPropertyInLiteral, map transitions looked up each time). The shapes are
// held weakly: a full GC that finds no entry alive (the tick queue is usually empty) drops them,
// and the next entry gets new ones. The API process makes full GCs (the bare route hardly any),
// so its nextTick went megamorphic: with ~6 nextTicks per request (stream reads, writes,
// destroys, the response's finish), ~2 µs of a POST /v1/jobs. An entry kept alive pins its shape
// and the chain of shapes before it, so the site keeps seeing one.
import { createHook } from 'node:async_hooks';

const pinned: object[] = [];

function pinTickObjectMaps(): void {
  // An init hook sees the entry nextTick makes (its resource); enabled only around one call.
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject') pinned.push(resource);
    },
  });
  hook.enable();
  try {
    process.nextTick(() => undefined);
  } finally {
    hook.disable();
  }
}

pinTickObjectMaps();

/** The kept entry (for tests): one object, with the fields nextTick gives its entries. */
export const pinnedTickObject = (): object | undefined => pinned[0];
