// TypeScript shapes of the custom resources; crds/*.yaml is the contract they mirror.
import type { KubeObject } from '../clients/kube.js';
import type { Condition } from '../runtime/conditions.js';

export const GROUP = 'gorten.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const FINALIZER = 'gorten.io/cleanup';

export const SERVICE_NAMES = [
  'users',
  'companies',
  'catalog',
  'carts',
  'orders',
  'payments',
  'checkout',
  'notifications',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface Quantities {
  cpu?: string | number;
  memory?: string | number;
}

export interface ServiceSpec {
  replicas?: number;
  resources?: { requests?: Quantities; limits?: Quantities };
  autoscaling?: {
    minReplicas?: number;
    maxReplicas: number;
    targetCPUUtilizationPercentage?: number;
  };
}

export interface ServiceTimeouts {
  connectMilliseconds?: number;
  readMilliseconds?: number;
  writeMilliseconds?: number;
}

export type UpstreamAlgorithm = 'round-robin' | 'least-connections' | 'latency';

/** How Kong balances and health-checks every service's pods. */
export interface UpstreamSpec {
  algorithm?: UpstreamAlgorithm;
  /** Active probes of /readyz on every target. */
  healthChecks?: {
    intervalSeconds?: number;
    timeoutSeconds?: number;
    healthySuccesses?: number;
    unhealthyFailures?: number;
  };
  /** Passive checks: proxied answers that take a target out of the balancer. */
  circuitBreaker?: {
    serverErrors?: number;
    timeouts?: number;
    connectFailures?: number;
  };
}

export interface MarketplaceSpec {
  displayName: string;
  host: string;
  currency?: string;
  suspended?: boolean;
  deletionPolicy?: 'Retain' | 'Delete';
  image?: { repository?: string; tag?: string };
  /** The first admin account; default admin@<host>. Its password is generated. */
  adminEmail?: string;
  email?: { from?: string };
  services?: Partial<Record<ServiceName, ServiceSpec>>;
  gateway?: {
    rateLimitPerMinute?: number;
    corsOrigins?: string[];
    requestSizeLimitKilobytes?: number;
    /** Per routed service: how long Kong waits for it (defaults in marketplace/edge.ts). */
    timeouts?: Partial<Record<Exclude<ServiceName, 'notifications'>, ServiceTimeouts>>;
    upstream?: UpstreamSpec;
  };
  /** Overrides the operator's GORTEN_TENANT_TRACE_SAMPLE_RATIO for this tenant (0 to 1). */
  tracing?: { sampleRatio?: number };
}

export interface MarketplaceStatus {
  observedGeneration?: number;
  namespace?: string;
  database?: string;
  vhost?: string;
  conditions?: Condition[];
}

export interface Marketplace extends KubeObject {
  spec: MarketplaceSpec;
  status?: MarketplaceStatus;
}

export interface CompanySpec {
  displayName: string;
  contactEmail: string;
  suspended?: boolean;
}

export interface CompanyStatus {
  observedGeneration?: number;
  companyId?: string;
  credentialsSecret?: string;
  conditions?: Condition[];
}

export interface Company extends KubeObject {
  metadata: KubeObject['metadata'] & { namespace: string };
  spec: CompanySpec;
  status?: CompanyStatus;
}
