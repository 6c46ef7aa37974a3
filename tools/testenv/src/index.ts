export { currentEnvFile, envVars, loadTestEnv, type TestEnv } from './state.js';
export { waitFor as eventually } from './process.js';
export { goTool } from './binaries.js';
