export { client, type Answer, type Call, type CallOptions } from './http.js';
export {
  rsaKeyPair,
  TestTenant,
  type KeyPair,
  type StoredField,
  type TokenClaims,
} from './tenant.js';
export { forgedTokens, type ForgedToken } from './attacks.js';
export { startTestService } from './service.js';
export { expectOpenApiUpToDate } from './openapi.js';
export { tenantRedisUser, type TenantRedisUser } from './redis.js';
