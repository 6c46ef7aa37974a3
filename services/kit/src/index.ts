export {
  createServiceApp,
  HTTP_METHODS,
  type ReadinessCheck,
  type ServiceAppOptions,
} from './app.js';
export { ConfigError, parseEnv, serviceEnv, type ServiceEnv } from './config.js';
export { createLogger, requestContext, type RequestState } from './logger.js';
export {
  gaugeReadAtScrape,
  SCRAPE_READ_TIMEOUT_MS,
  ServiceMetrics,
  withDeadline,
  type ScrapedGauge,
} from './metrics.js';
export * from './problem.js';
export { corsFor, securityHeaders } from './security.js';
export { serve, type RunningServer, type ServeOptions } from './server.js';
export {
  atLeastOneField,
  emailAddress,
  operatorKeys,
  trimmedText,
  validate,
  type ValidatedInput,
} from './validate.js';
export {
  assertActsForCompany,
  assertOwnerOrAdmin,
  authenticate,
  isAdmin,
  isSellerOf,
  principalOf,
  requireRole,
  ROLES,
  type AuthOptions,
  type AuthState,
  type Principal,
  type Role,
} from './auth.js';
export { connectMongo, isDuplicateKey, type CollectionIndexes, type MongoHandle } from './mongo.js';
export {
  Publisher,
  UnroutableMessage,
  type EventEnvelope,
  type PublishProperties,
} from './messaging/publisher.js';
export {
  noOutbox,
  OutboxRelay,
  outboxEntry,
  type Outbox,
  type OutboxEntry,
  type WithOutbox,
} from './messaging/outbox.js';
export {
  Consumer,
  PoisonMessage,
  pruneProcessedMessages,
  type ConsumerOptions,
  type EventHandler,
} from './messaging/consumer.js';
export { redrive, RETRIES_HEADER } from './messaging/dead-letters.js';
export { DependencyRefusal, DependencyUnavailable, isDependencyFailure } from './dependency.js';
export { backoffDelay, type Backoff } from './backoff.js';
export { everyInterval, RETENTION_SWEEP_MS, type PeriodicTask, type Schedule } from './periodic.js';
export {
  CacheMetrics,
  noCache,
  openReadCache,
  ReadCache,
  type CacheEnv,
  type CachedRead,
  type CacheSettings,
} from './cache.js';
export {
  CACHE_NAMES,
  CACHE_OUTCOMES,
  entryKey,
  fillLockKey,
  generationKey,
  freshGeneration,
  generationValue,
  readEntry,
  storedEntry,
  type CacheName,
  type CacheOutcome,
} from './cache-keys.js';
export { canonicalJson } from './canonical-json.js';
export { connectRedis, redisAddress, type RedisConnection } from './redis.js';
export {
  dependencyPolicy,
  DependencyMetrics,
  type DependencyPolicy,
  type DependencyPolicyOptions,
} from './resilience.js';
export {
  apiRouter,
  ResponseContractError,
  routeFor,
  type Access,
  type ApiReply,
  type ApiRequest,
  type ResponseSpec,
  type Route,
} from './api.js';
export { openApiDocument, type ApiInfo } from './openapi.js';
export {
  openApiFor,
  runMain,
  startService,
  type ConsumerSpec,
  type RunningService,
  type ServiceBase,
  type ServiceDefinition,
  type StartOptions,
} from './service.js';
export { type CompanyMemberRecord, idPattern, newId } from './tenant-data.js';
export {
  type CompanyRecord,
  type CompanyStatus,
  COMPANY_ID_PATTERN,
  deadLetterQueueOf,
  RETRY_QUEUE_TTL_MS,
  retryQueueOf,
  operatorCompanyRecord,
  SHARED_COLLECTIONS,
} from './tenant-contract.js';
export {
  afterCursor,
  decodeCursor,
  encodeCursor,
  FOREIGN_CURSOR,
  page,
  pageOf,
  pageQuery,
} from './pagination.js';
export {
  IdempotencyKeys,
  idempotencyEnv,
  idempotencyKeyHeader,
  requestHash,
  type Claim,
  type IdempotencyOptions,
  type IdempotencyRecord,
  type Settlement,
} from './idempotency.js';
export {
  KIT_SCOPE,
  NO_TRACING,
  SPANS_DROPPED,
  startTracing,
  tracingEnv,
  tracingSettings,
  type Tracing,
  type TracingOptions,
  type TracingSettings,
} from './tracing.js';
export { inSpan, recordFailure, spanned } from './spans.js';
export { currentTraceContext, traceLogFields, type TraceContextFields } from './trace-context.js';
