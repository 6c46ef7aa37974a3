// A private Kubernetes cluster for tests that change what is cluster-wide (CRDs that
// must first be absent, then installed, then removed): the same control plane as the
// shared environment (servers/kube-plane.ts), in its own temporary folder, so no other
// test file sees the change. The data servers stay the shared ones.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries, goServerVersions } from './binaries.js';
import { processStart } from './pids.js';
import { stopServer } from './process.js';
import type { StartContext } from './servers/context.js';
import { installCrdFile, type KubeAccess } from './servers/kube.js';
import { startKubePlane } from './servers/kube-plane.js';
import type { ServerProcess } from './state.js';

export interface PrivateKube {
  kube: KubeAccess;
  logDir: string;
  readonly processes: readonly ServerProcess[];
  /** Applies the CRDs of a multi-document YAML file and waits until they are Established. */
  installCrdFile(file: string): Promise<string[]>;
  /** Stops every server of the cluster and removes its data. */
  stop(): Promise<void>;
}

export async function startPrivateKube(): Promise<PrivateKube> {
  const dir = mkdtempSync(join(tmpdir(), 'gorten-private-kube-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const processes: ServerProcess[] = [];
  const ctx: StartContext = {
    dataDir: dir,
    persistent: false,
    logDir,
    binary: ensureBinaries(goServerVersions()),
    record: (proc) => processes.push({ ...proc, start: processStart(proc.pid) }),
  };
  const stop = async (): Promise<void> => {
    for (const proc of [...processes].reverse()) {
      if (processStart(proc.pid) === proc.start) await stopServer(proc.pid);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let kube: KubeAccess;
  try {
    kube = await startKubePlane(ctx);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kube,
    logDir,
    processes,
    installCrdFile: (file) => installCrdFile(kube, file),
    stop,
  };
}
