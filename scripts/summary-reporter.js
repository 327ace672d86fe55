'use strict'
// Prints jest's totals as one plain line (`jest: N passed, N failed`) so CI logs carry a
// runner-neutral closing line after cargo's.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    process.stdout.write(
      `\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
    )
  }
}
module.exports = SummaryReporter
