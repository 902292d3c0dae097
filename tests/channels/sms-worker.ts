// A worker process for the sms cross-process tests: serves the `sms` queue of a store (SQLite file
// or Redis prefix) with the tests' loop provider, config given as JSON.
//   node sms-worker.js <store url> <prefix|-> <config json> <concurrency>
import { Fusion } from '../../src/fusion.js';
import { loopFactory } from './sms-fixtures.js';

const [url, prefix, configJson, conc] = process.argv.slice(2) as [string, string, string, string];
const fusion = await Fusion.open({
  store: url,
  storeOptions: prefix === '-' ? {} : { prefix },
  config: JSON.parse(configJson),
  providers: [loopFactory],
  logger: {
    debug() {}, info() {}, error() {},
    warn: (obj: object, msg?: string) => process.send?.({ warn: msg, ...obj }),
  },
});
fusion.worker({ queues: ['sms'], concurrency: Number(conc || 4), pollMs: 25 });
const keepAlive = setInterval(() => {}, 60_000);
process.on('SIGTERM', () => {
  void fusion.close(2000).then(() => {
    clearInterval(keepAlive);
    process.exit(0);
  });
});
process.send?.('ready');
