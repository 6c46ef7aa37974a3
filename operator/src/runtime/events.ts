// Kubernetes Events about our resources, so `kubectl describe` tells what happened.
// Cluster-scoped objects get their Events in the default namespace, as Kubernetes does.
import { randomBytes } from 'node:crypto';
import type { Kube, KubeObject } from '../clients/kube.js';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  constructor(
    private readonly kube: Kube,
    private readonly component: string,
    private readonly onFailure: (err: unknown) => void = () => undefined,
  ) {}

  /** Best effort: failing to record an Event never fails a reconcile. */
  async record(about: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = about.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${about.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: {
        apiVersion: about.apiVersion,
        kind: about.kind,
        name: about.metadata.name,
        namespace: about.metadata.namespace,
        uid: about.metadata.uid,
        resourceVersion: about.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.kube.create(event);
    } catch (err) {
      this.onFailure(err);
    }
  }
}
