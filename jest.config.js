// Two projects: unit tests (pure logic, no I/O) and integration tests (real servers
// from tools/testenv, which `npm test` starts). Both run TypeScript ESM through ts-jest.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: `${import.meta.dirname}/tsconfig.base.json` }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
  setupFilesAfterEnv: ['<rootDir>/tools/testenv/src/jest/progress.ts'],
};

export default {
  // Integration tests wait on real servers; each wait inside has its own shorter deadline.
  testTimeout: 120_000,
  // Stops and names any process a test left running; ends a Jest that would not exit.
  globalTeardown: '<rootDir>/tools/testenv/src/jest/teardown.js',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/**/*.int.test.ts'],

      slowTestThreshold: 30,
    },
  ],
};
