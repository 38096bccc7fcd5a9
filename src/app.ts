/**
 * The composition root: settings → host registry → SSH fleet → status cache. Transports and the MCP
 * layer receive a ScoutApp and never build these themselves.
 */
import type { Settings } from "./config/settings.js";
import { HostRegistry } from "./config/registry.js";
import { createConnectionDeps } from "./ssh/trust.js";
import { Fleet, type FleetObserver } from "./ssh/fleet.js";
import { HostStatusCache } from "./ops/status.js";
import { limitsFrom, type Limits } from "./ops/limits.js";
import type { Logger } from "./observe/log.js";
import { VERSION } from "./version.js";
import { Policy } from "./guard/policy.js";

export interface ScoutApp {
  readonly settings: Settings;
  readonly registry: HostRegistry;
  readonly fleet: Fleet;
  readonly status: HostStatusCache;
  readonly limits: Limits;
  readonly policy: Policy;
  readonly log: Logger;
  readonly version: string;
  readonly startedAt: number;
  close(): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  /** Watch the ssh config for changes (default true). */
  watch?: boolean;
  fleetObserver?: FleetObserver;
}

export async function createApp(settings: Settings, options: AppOptions): Promise<ScoutApp> {
  const log = options.log;
  const policy = settings.policyFile ? await Policy.load(settings.policyFile) : Policy.empty();
  const registry = await HostRegistry.open(settings, {
    watch: options.watch ?? true,
    log: (level, msg) => log[level]({ component: "config" }, msg),
  });
  const connectionDeps = await createConnectionDeps(settings, (msg) =>
    log.warn({ component: "hostkey" }, msg),
  );
  const fleet = new Fleet({
    settings,
    lookupHost: (alias) => registry.require(alias),
    connectionDeps,
    ...(options.fleetObserver ? { observer: options.fleetObserver } : {}),
  });
  const status = new HostStatusCache({
    ttlMs: settings.statusCacheTtlMs,
    isConnected: (alias) => fleet.isConnected(alias),
  });
  registry.on("change", () => status.invalidate());
  return {
    settings,
    registry,
    fleet,
    status,
    limits: limitsFrom(settings),
    policy,
    log,
    version: VERSION,
    startedAt: Date.now(),
    close: async () => {
      registry.close();
      await fleet.close();
    },
  };
}
