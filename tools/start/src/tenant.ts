// The tenant's services run here as the operator would run them in the cluster: each gets
// the environment its Deployment declares, resolved from the tenant's own ConfigMap and
// Secrets — exactly what the operator provisioned, nothing configured a second time.
import type { V1Container } from '@kubernetes/client-node';

/** The part of a Deployment this reads. */
export interface DeploymentLike {
  spec?: { template: { spec?: { containers: V1Container[] } } };
}

export type DataMap = Record<string, Record<string, string>>;

/** A container's environment with every reference resolved; a dangling one is an error. */
export function resolveEnv(
  container: V1Container,
  configMaps: DataMap,
  secrets: DataMap,
): Record<string, string> {
  const env: Record<string, string> = {};
  const lookup = (kind: string, maps: DataMap, name: string, key?: string): string => {
    const value = key === undefined ? undefined : maps[name]?.[key];
    if (value === undefined)
      throw new Error(`${container.name}: ${kind} ${name} has no key ${key ?? '(none named)'}`);
    return value;
  };
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name ?? source.secretRef?.name ?? '';
    const data = source.configMapRef ? configMaps[name] : secrets[name];
    if (!data) throw new Error(`${container.name}: envFrom names a missing object ${name}`);
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from?.secretKeyRef)
      env[variable.name] = lookup(
        'Secret',
        secrets,
        from.secretKeyRef.name ?? '',
        from.secretKeyRef.key,
      );
    else if (from?.configMapKeyRef)
      env[variable.name] = lookup(
        'ConfigMap',
        configMaps,
        from.configMapKeyRef.name ?? '',
        from.configMapKeyRef.key,
      );
    else if (from)
      throw new Error(
        `${container.name}: ${variable.name} comes from a source npm start cannot read`,
      );
    else env[variable.name] = variable.value ?? '';
  }
  return env;
}

/** Each Deployment's service (its first container argument) and resolved environment. */
export function serviceEnvironments(
  deployments: readonly DeploymentLike[],
  configMaps: DataMap,
  secrets: DataMap,
): Map<string, Record<string, string>> {
  const services = new Map<string, Record<string, string>>();
  for (const deployment of deployments) {
    const container = deployment.spec?.template.spec?.containers[0];
    const service = container?.args?.[0];
    if (!container || !service) continue;
    services.set(service, resolveEnv(container, configMaps, secrets));
  }
  return services;
}

/** Secret data as text (Kubernetes keeps it base64). */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}
