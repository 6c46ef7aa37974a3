// Running the real helm binary on charts/gorten, and reading what it renders.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { goTool } from '@gorten/testenv';
import type { KubeObject } from '@gorten/operator';

export const CHART_DIR = join(import.meta.dirname, '..', '..', 'charts', 'gorten');

/** The Kubernetes version the chart is linted and rendered for (the test apiserver's minor). */
export const KUBE_VERSION = '1.36.0';

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function helm(args: readonly string[]): HelmResult {
  const result = spawnSync(goTool('helm'), args, { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface RenderOptions {
  /** A chart directory or packaged .tgz; charts/gorten by default. */
  chart?: string;
  release?: string;
  namespace?: string;
  /** Written to a values file and passed with -f. */
  values?: Record<string, unknown>;
  /** Further flags, e.g. ['--set', 'replicaCount=3']. */
  args?: readonly string[];
}

/** `helm template` of the chart; the result as it came, failures included. */
export function template(options: RenderOptions = {}): HelmResult {
  const dir = mkdtempSync(join(tmpdir(), 'gorten-chart-'));
  try {
    const valuesFile = join(dir, 'values.yaml');
    writeFileSync(valuesFile, stringify(options.values ?? {}));
    return helm([
      'template',
      options.release ?? 'gorten',
      options.chart ?? CHART_DIR,
      '--namespace',
      options.namespace ?? 'gorten-system',
      '--kube-version',
      KUBE_VERSION,
      '-f',
      valuesFile,
      ...(options.args ?? []),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The rendered objects; a failed render fails with helm's own message. */
export function render(options: RenderOptions = {}): KubeObject[] {
  const result = template(options);
  if (result.status !== 0) {
    throw new Error(`helm template failed (exit ${result.status}):\n${result.stderr}`);
  }
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export function findObject(
  objects: readonly KubeObject[],
  kind: string,
  name?: string,
): KubeObject {
  const found = objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));
  if (!found) throw new Error(`the chart rendered no ${kind}${name ? ` ${name}` : ''}`);
  return found;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

export interface OperatorContainer {
  image: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  securityContext: Record<string, unknown>;
}

export interface OperatorPodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  affinity?: Record<string, unknown>;
  containers: OperatorContainer[];
}

/** The Deployment's pod spec and its single operator container. */
export function operatorPod(objects: readonly KubeObject[]): {
  pod: OperatorPodSpec;
  container: OperatorContainer;
} {
  const deployment = findObject(objects, 'Deployment') as KubeObject & {
    spec: { template: { spec: OperatorPodSpec } };
  };
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  if (!container || pod.containers.length !== 1) {
    throw new Error('the operator Deployment should have exactly one container');
  }
  return { pod, container };
}

/**
 * The environment the kubelet would give the container: plain values as they are,
 * Secret references looked up with `secret`, and the Downward API fields from `pod`.
 */
export async function resolveEnv(
  env: readonly EnvVar[],
  secret: (name: string, key: string) => Promise<string> | string,
  pod: { name: string; namespace: string },
): Promise<Record<string, string>> {
  const resolved: Record<string, string> = {};
  for (const variable of env) {
    if (variable.value !== undefined) resolved[variable.name] = variable.value;
    else if (variable.valueFrom?.secretKeyRef) {
      const ref = variable.valueFrom.secretKeyRef;
      resolved[variable.name] = await secret(ref.name, ref.key);
    } else if (variable.valueFrom?.fieldRef) {
      const field = variable.valueFrom.fieldRef.fieldPath;
      if (field === 'metadata.name') resolved[variable.name] = pod.name;
      else if (field === 'metadata.namespace') resolved[variable.name] = pod.namespace;
      else throw new Error(`${variable.name}: the test does not resolve fieldRef ${field}`);
    } else {
      throw new Error(`${variable.name} has neither a value nor a source the test resolves`);
    }
  }
  return resolved;
}
