// Installs (or upgrades) Gorten's CRDs from crds/ — for `npm run operator` and tests;
// in a cluster the Helm chart does it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { FIELD_MANAGER, type Kube, type KubeObject } from './clients/kube.js';

export const CRD_DIR = join(import.meta.dirname, '..', '..', 'crds');

export function readCrds(dir = CRD_DIR): KubeObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as KubeObject),
    );
}

type Crd = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

export async function installCrds(
  kube: Kube,
  crds: KubeObject[],
  timeoutMs = 30_000,
): Promise<void> {
  for (const crd of crds) {
    await kube.request(
      'PATCH',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=${FIELD_MANAGER}&force=true`,
      crd,
      'application/apply-patch+yaml',
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const live = await kube.request<Crd>(
        'GET',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
        break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata.name} not Established within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  }
}
