// A node:test reporter that writes each failed test's name, file and error as one JSON line.
// run-tests.mjs runs it beside the spec reporter and prints the lines again once every phase has
// run: a CI log that keeps only its end still shows why a test of the first phase failed.
import { inspect } from 'node:util';

// Failures that only echo another: a suite whose subtests failed, a test its failed parent cancelled.
const ECHOES = new Set(['subtestsFailed', 'cancelledByParent']);

export default async function* failuresReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, line, details } = event.data;
    const error = details?.error;
    if (ECHOES.has(error?.failureType)) continue;
    // The runner wraps a test's own error (ERR_TEST_FAILURE): its cause is what the test threw. A
    // test file that crashed carries its exit code and signal on the wrapper instead.
    const thrown = error?.cause ?? error;
    const exit = error?.exitCode !== undefined || error?.signal ? ` (exit code ${error.exitCode ?? '-'}, signal ${error.signal ?? '-'})` : '';
    // Node's own frames say nothing about the failure; the rest is cut at 30 lines.
    const text = (inspect(thrown, { depth: 4, breakLength: Infinity }) + exit).split('\n').filter((l) => !/\(node:|at node:/.test(l));
    yield JSON.stringify({ name, file, line, error: text.slice(0, 30).join('\n') }) + '\n';
  }
}
