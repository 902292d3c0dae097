// A node:test reporter that writes each failed test's name, file and error as one JSON line.
// run-tests.mjs runs it beside the spec reporter and prints the lines again once every phase has
// run: a CI log that keeps only its end still shows why a test of the first phase failed.
import { inspect } from 'node:util';

export default async function* failuresReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, line, details } = event.data;
    const error = details?.error;
    // The runner wraps a test's own error (ERR_TEST_FAILURE): its cause is what the test threw.
    const thrown = error?.cause ?? error;
    // The runner's own frames say nothing about the failure; the rest is cut at 30 lines.
    const text = inspect(thrown, { depth: 4, breakLength: Infinity }).split('\n').filter((l) => !l.includes('(node:internal/') && !/at node:internal\//.test(l));
    yield JSON.stringify({ name, file, line, error: text.slice(0, 30).join('\n') }) + '\n';
  }
}
