// Operator-wide defaults that every tenant gets unless its spec overrides them.
// Parsed from the environment in config.ts; the builders take them as plain data.

export interface OperatorSettings {
  image: { repository: string; tag: string };
  /** Ceiling for everything in one tenant namespace. */
  quota: {
    pods: number;
    requestsCpu: string;
    requestsMemory: string;
    limitsCpu: string;
    limitsMemory: string;
  };
  /** Container resources when neither the spec nor the container says otherwise. */
  containerDefaults: {
    requests: { cpu: string; memory: string };
    limits: { cpu: string; memory: string };
  };
  /** Namespaces whose pods may reach tenant services: the Kong gateway and monitoring. */
  gatewayNamespaceLabels: Record<string, string>;
  monitoringNamespaceLabels: Record<string, string>;
  /** host:port of MongoDB and RabbitMQ as the tenant's pods reach them. */
  mongoTenantHost: string;
  amqpTenantHost: string;
  /**
   * host:port of Redis as the tenants' pods reach it, set only when the operator has a
   * usable Redis admin URL: then every tenant gets a cache user and REDIS_URL.
   */
  redisTenantHost?: string;
  /** IngressClass of the Kong Ingress Controller that serves tenant hosts. */
  ingressClass: string;
  /**
   * Whether tenant routes carry the gorten-problem-details plugin (kong/plugins), which
   * makes Kong's own rejections problem documents. Only for a Kong that has loaded it:
   * KIC refuses a configuration that names a plugin its Kong lacks (docs/operator.md).
   */
  kongProblemDetails: boolean;
  /**
   * How long a deleted tenant's pods (deletionPolicy Delete) are waited for to stop before
   * its data is dropped anyway, with a DroppedWhileRunning Event.
   */
  tenantStopDeadlineSeconds: number;
  /** The mail relay the tenants' email workers send through (may carry credentials). */
  smtpUrl: string;
  /** Labels on each tenant's ServiceMonitor besides its own: what a Prometheus selects by. */
  tenantMonitorLabels: Record<string, string>;
  /**
   * The ClusterRole (the chart's `<release>-tenant`) the operator binds to its own
   * ServiceAccount in each tenant namespace it creates: its only rights on Secrets and
   * the tenant's other objects. Unset when it runs with broader credentials (tests).
   */
  tenantAccess?: TenantAccess;
  /**
   * Where the tenants' services send their spans, and the share of new traces they keep
   * (a Marketplace's spec.tracing.sampleRatio overrides it). Unset: they trace nothing.
   */
  tenantTracing?: TenantTracing;
}

export interface TenantTracing {
  /** The collector's OTLP/HTTP base URL, as the tenants' pods reach it (no credentials). */
  otlpEndpoint: string;
  /** 0 to 1: the root sampling ratio of parentbased_traceidratio. */
  sampleRatio: number;
}

export interface TenantAccess {
  clusterRole: string;
  serviceAccount: { namespace: string; name: string };
}

export const DEFAULT_SETTINGS: OperatorSettings = {
  image: { repository: 'ghcr.io/gorten/services', tag: '0.1.0' },
  quota: {
    pods: 60,
    requestsCpu: '8',
    requestsMemory: '16Gi',
    limitsCpu: '16',
    limitsMemory: '32Gi',
  },
  containerDefaults: {
    requests: { cpu: '100m', memory: '128Mi' },
    limits: { cpu: '1', memory: '512Mi' },
  },
  gatewayNamespaceLabels: { 'gorten.io/role': 'gateway' },
  monitoringNamespaceLabels: { 'gorten.io/role': 'monitoring' },
  mongoTenantHost: 'mongodb.gorten-system.svc:27017',
  amqpTenantHost: 'rabbitmq.gorten-system.svc:5672',
  ingressClass: 'kong',
  kongProblemDetails: false,
  tenantStopDeadlineSeconds: 300,
  smtpUrl: 'smtp://smtp.gorten-system.svc:25',
  tenantMonitorLabels: {},
};
