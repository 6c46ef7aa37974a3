// A whole Kubernetes control plane as the tests use it: etcd, kube-apiserver,
// controller-manager and scheduler, kwok's simulated nodes, and Kong's CRDs, so Kong
// resources written in tests are checked by Kong's schemas. The shared environment and a
// private cluster (private-kube.ts) start the same one.
import { startEtcd } from './etcd.js';
import {
  installCrdFile,
  startControllerManager,
  startKubeApiserver,
  startScheduler,
  type ApiserverOptions,
  type KubeAccess,
} from './kube.js';
import { startKwok } from './kwok.js';
import type { StartContext } from './context.js';

const SIMULATED_NODES = 3;

/** The plane's apiserver access, and etcd's client URL (a private cluster's tests use it). */
export async function startKubePlane(
  ctx: StartContext,
  options: ApiserverOptions = {},
): Promise<KubeAccess & { etcdUrl: string }> {
  const etcd = await startEtcd(ctx);
  const kube = await startKubeApiserver(ctx, etcd.url, options);
  await Promise.all([startControllerManager(ctx, kube), startScheduler(ctx, kube)]);
  await startKwok(ctx, kube, SIMULATED_NODES);
  await installCrdFile(kube, ctx.binary('kong-crds'));
  return { ...kube, etcdUrl: etcd.url };
}
