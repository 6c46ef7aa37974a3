export { currentEnvFile, envVars, loadTestEnv, type TestEnv } from './state.js';
export { eventually } from './process.js';
export { tcpCable, type Cable } from './cable.js';
export { goTool } from './binaries.js';
// For npm start (tools/start), which runs the same servers with data kept across starts.
export { startEnvironment, stopRecordedEnvironment, withStartLock } from './environment.js';
export { startDataPlane, type DataPlane } from './data-plane.js';
export { startPrivateKube, type PrivateKube } from './private-kube.js';
export { startRedis, type PrivateRedis } from './redis.js';
export { pingRedis, type RedisAccess } from './servers/redis.js';
export {
  platformJobs,
  PrometheusError,
  startPrometheus,
  type PlatformTargets,
  type Prometheus,
  type PrometheusOptions,
  type Sample,
  type ScrapeJob,
  type TargetState,
} from './servers/prometheus.js';
export {
  JaegerQuery,
  serviceOf,
  startJaeger,
  type Jaeger,
  type JaegerSpan,
  type JaegerTrace,
} from './jaeger.js';
export { ensureBinaries, goServerVersions, missingBinaries } from './binaries.js';
export { repoRoot } from './state.js';
export { nodeProblem } from './node-runtime.js';
export { freePort } from './ports.js';
export { spawnTracked, killTracked } from './spawn.js';
export {
  chromiumPath,
  pngSize,
  renderedDom,
  screenshot,
  type BrowserOptions,
  type Png,
} from './browser.js';
export { describeOwned, OWNERS, ownedEnv, sweepOwner, withOwner } from './owners.js';
export { signalGroup } from './pids.js';
export { isLoopback, listenersOf, type Listener } from './sockets.js';
