// The operator's public surface: what the tools, benchmarks and delivery tests outside
// operator/ may use (eslint forbids deep imports of operator/src/). The operator runs
// from main.ts; nothing here starts it, and package.json says no other module has side
// effects, so the services bundle takes SERVICE_NAMES from here and nothing else.
export { SERVICE_NAMES, type Company, type Marketplace, type ServiceName } from './api/types.js';
export { eachBounded } from './clients/apply.js';
export { Kube, type KubeObject } from './clients/kube.js';
export type { Exchange, Queue } from './clients/rabbitmq-admin.js';
export { loadConfig } from './config.js';
export { CRD_DIR, installCrds, readCrds } from './crds.js';
export { buildUpstreamPolicy, EDGE_ANNOTATIONS, serviceEdge } from './marketplace/edge.js';
export {
  buildGatewayPlane,
  buildKongPlugins,
  KNOWN_KONG_PLUGINS,
  ROUTES,
} from './marketplace/gateway.js';
export { tenantNames } from './marketplace/names.js';
// The floor of bench/operator-floor.ts writes what the planes write, with none of their logic.
export {
  BROKER_PERMISSIONS,
  buildAdminSecret,
  buildBrokerSecret,
  buildCacheSecret,
  buildDatabaseSecret,
  buildIdempotencySecret,
  buildSigningKeySecret,
  buildSmtpSecret,
} from './marketplace/credentials.js';
export { buildNamespacePlane } from './marketplace/namespace.js';
export { tenantTopology, TOPOLOGY_FILE } from './marketplace/topology.js';
export {
  buildConfigMap,
  buildDeployment,
  buildService,
  buildWorkloadsPlane,
  configDigest,
  HTTP_PORT,
  rolloutLag,
} from './marketplace/workloads.js';
// In-process, for the tests outside operator/ that scrape a running operator.
export { createLogger, startOperator, type RunningOperator } from './operator.js';
export { findCondition } from './runtime/conditions.js';
export { generatePassword, generateRsaKeyPair, secretValue } from './secrets.js';
export { DEFAULT_SETTINGS, type OperatorSettings } from './settings.js';
