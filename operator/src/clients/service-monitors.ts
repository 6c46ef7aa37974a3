// Whether the cluster serves the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1), by API discovery, which every authenticated client may read:
// no rights on CRDs needed. Asked at start, again once the answer is older than
// `recheckMs`, and at once when a ServiceMonitor request meets 404 (its CRD was removed).
// A change of the answer is logged once; a steady answer is never repeated.
import type { Logger } from 'pino';
import { KubeError, type Kube } from './kube.js';

export const MONITORING_API = 'monitoring.coreos.com/v1';

/** `unknown`: discovery failed and nothing was known before; ask again next time. */
export type Presence = 'present' | 'absent' | 'unknown';

interface Known {
  present: boolean;
  at: number;
}

export class ServiceMonitorSupport {
  private known?: Known;
  private asking?: Promise<Presence>;

  constructor(
    private readonly kube: Pick<Kube, 'request'>,
    private readonly log: Logger,
    private readonly recheckMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last answer while it is fresh; else asks the apiserver (one request at a time). */
  check(): Promise<Presence> {
    const { known } = this;
    if (known && this.now() - known.at < this.recheckMs) return Promise.resolve(presence(known));
    return this.ask();
  }

  /** A ServiceMonitor request answered 404: ask now, whatever the last answer said. */
  recheck(): Promise<Presence> {
    return this.ask();
  }

  private ask(): Promise<Presence> {
    this.asking ??= this.discover().finally(() => {
      this.asking = undefined;
    });
    return this.asking;
  }

  private async discover(): Promise<Presence> {
    let present: boolean;
    try {
      const list = await this.kube.request<{ resources?: { name: string }[] }>(
        'GET',
        `/apis/${MONITORING_API}`,
      );
      present = (list.resources ?? []).some((r) => r.name === 'servicemonitors');
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) {
        this.log.warn({ err }, `could not discover ${MONITORING_API}; asking again next reconcile`);
        return this.known ? presence(this.known) : 'unknown';
      }
      present = false;
    }
    if (present !== this.known?.present) this.announce(present, this.known !== undefined);
    this.known = { present, at: this.now() };
    return presence(this.known);
  }

  private announce(present: boolean, changed: boolean): void {
    const every = `checked again every ${Math.round(this.recheckMs / 1000)} s`;
    if (present) {
      this.log.info(`the cluster serves ServiceMonitors (${MONITORING_API}): each tenant gets one`);
    } else {
      const message = `the cluster serves no ServiceMonitor (${MONITORING_API}, the Prometheus Operator's CRDs): no tenant gets one (condition ScrapeConfigured False, NoPrometheusOperator); ${every}`;
      if (changed) this.log.warn(message);
      else this.log.info(message);
    }
  }
}

function presence(known: Known): Presence {
  return known.present ? 'present' : 'absent';
}
