/** Jest runs the TypeScript tests in __test__/ against the built addon (npm run build first). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__test__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // examples/backend imports the package by name; in tests that is this repository's lib/ (tsconfig.json `paths` does the same for tsc).
  moduleNameMapper: { '^@devmetrics/webhook-processor$': '<rootDir>/lib/index.js' },
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/scripts/summary-reporter.js'],
  collectCoverageFrom: ['lib/**/*.js'],
  coverageReporters: ['text-summary', 'lcov'],
}
