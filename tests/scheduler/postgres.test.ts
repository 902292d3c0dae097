// The scheduler suite on PostgreSQL: racing schedulers are separate stores (pools) on one schema.
import { describe } from 'node:test';
import { schedulerSuite } from './suite.js';
import { dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';

const skip = await pgSkip();
if (skip) describe('Scheduler: postgres', { skip }, () => {});
else
  schedulerSuite('postgres', async () => {
    const schema = testSchema();
    const store = await PostgresStore.open(schemaUrl(schema));
    const others: PostgresStore[] = [];
    return {
      store,
      connect: async () => {
        const s = await PostgresStore.open(schemaUrl(schema));
        others.push(s);
        return s;
      },
      async cleanup() {
        await Promise.all(others.map((s) => s.close()));
        await store.close();
        await dropSchema(schema);
      },
    };
  });
