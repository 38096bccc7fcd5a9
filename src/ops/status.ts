/**
 * Online/offline status by concurrent TCP probes (2 s timeout each), cached per host, shared
 * between concurrent callers. A host with a live pooled connection is online without a probe. A
 * probe follows the host's route, never straight at HostName:Port: a host behind ProxyJump is
 * probed at its first jump host, a route that starts with a ProxyCommand runs that command and
 * is online when an SSH banner comes out of it. A host whose config entry can never connect
 * (HostConfig.configError) is offline without a probe.
 */
import net from "node:net";
import type { HostConfig } from "../config/host.js";
import { proxyCommandProbe, routeOf } from "../ssh/dial.js";

export type ProbeFn = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

export const tcpProbe: ProbeFn = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });

export interface StatusOptions {
  ttlMs: number;
  probeTimeoutMs?: number;
  isConnected?: (alias: string) => boolean;
  probe?: ProbeFn;
  /** Probes a route that starts with a ProxyCommand (that hop given); default proxyCommandProbe. */
  proxyProbe?: (firstHop: HostConfig, timeoutMs: number) => Promise<boolean>;
  now?: () => number;
}

export class HostStatusCache {
  private readonly cache = new Map<string, { online: boolean; checkedAt: number }>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly options: StatusOptions) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private probeOne(h: HostConfig): Promise<boolean> {
    const existing = this.inFlight.get(h.alias);
    if (existing) return existing;
    const first = routeOf(h)[0] as HostConfig;
    const timeoutMs = this.options.probeTimeoutMs ?? 2000;
    const probing =
      first.proxyCommand !== undefined
        ? (this.options.proxyProbe ?? proxyCommandProbe)(first, timeoutMs)
        : (this.options.probe ?? tcpProbe)(first.hostname, first.port, timeoutMs);
    const p = probing.then((online) => {
      this.inFlight.delete(h.alias);
      // Always remembered (scout_host_up reads snapshot()); reused only within the TTL.
      this.cache.set(h.alias, { online, checkedAt: this.now() });
      return online;
    });
    this.inFlight.set(h.alias, p);
    return p;
  }

  async status(hosts: HostConfig[]): Promise<Map<string, boolean>> {
    const result = new Map<string, boolean>();
    await Promise.all(
      hosts.map(async (h) => {
        if (h.configError !== undefined) {
          // It can never connect (e.g. a ProxyJump loop): offline without a probe, and remembered
          // like a probe so that scout_host_up shows it.
          result.set(h.alias, false);
          this.cache.set(h.alias, { online: false, checkedAt: this.now() });
          return;
        }
        if (this.options.isConnected?.(h.alias)) {
          result.set(h.alias, true);
          this.cache.set(h.alias, { online: true, checkedAt: this.now() });
          return;
        }
        const cached = this.cache.get(h.alias);
        if (cached && this.options.ttlMs > 0 && this.now() - cached.checkedAt < this.options.ttlMs) {
          result.set(h.alias, cached.online);
          return;
        }
        result.set(h.alias, await this.probeOne(h));
      }),
    );
    return result;
  }

  invalidate(alias?: string): void {
    if (alias) this.cache.delete(alias);
    else this.cache.clear();
  }

  /** Last known status per host, for the scout_host_up gauge. */
  snapshot(): Array<{ alias: string; online: boolean; checkedAt: number }> {
    return [...this.cache.entries()].map(([alias, v]) => ({ alias, ...v }));
  }
}
