// Starting a service under test the way main.ts does, against a test tenant, on port 0,
// with every answer checked against its declared schema.
import {
  startService,
  type RunningService,
  type ServiceDefinition,
  type ServiceEnv,
} from '@gorten/kit';
import type { TestTenant } from './tenant.js';

export function startTestService<E extends ServiceEnv, Deps>(
  definition: ServiceDefinition<E, Deps>,
  tenant: TestTenant,
  service: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningService<Deps>> {
  return startService(definition, tenant.serviceEnv(service, extraEnv), {
    checkResponses: true,
    outboxIntervalMs: 100,
  });
}
