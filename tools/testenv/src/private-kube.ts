// A private Kubernetes cluster for tests that change what is cluster-wide (CRDs that
// must first be absent, then installed, then removed): the same control plane as the
// shared environment (servers/kube-plane.ts), in its own temporary folder, so no other
// test file sees the change. The data servers stay the shared ones.
import { privateServers } from './private-servers.js';
import { installCrdFile, type ApiserverOptions, type KubeAccess } from './servers/kube.js';
import { startKubePlane } from './servers/kube-plane.js';
import type { ServerProcess } from './state.js';

export interface PrivateKube {
  kube: KubeAccess;
  /** etcd's client URL, to change what only etcd can (e.g. compact its history). */
  etcdUrl: string;
  logDir: string;
  readonly processes: readonly ServerProcess[];
  /** Applies the CRDs of a multi-document YAML file and waits until they are Established. */
  installCrdFile(file: string): Promise<string[]>;
  /** Stops every server of the cluster and removes its data. */
  stop(): Promise<void>;
}

export async function startPrivateKube(options: ApiserverOptions = {}): Promise<PrivateKube> {
  const { ctx, logDir, processes, stop: stopAll } = privateServers('private-kube');
  const stop = () => stopAll();
  let kube: KubeAccess;
  let etcdUrl: string;
  try {
    ({ etcdUrl, ...kube } = await startKubePlane(ctx, options));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kube,
    etcdUrl,
    logDir,
    processes,
    installCrdFile: (file) => installCrdFile(kube, file),
    stop,
  };
}
