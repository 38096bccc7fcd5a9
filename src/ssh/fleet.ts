/**
 * The fleet: every host's pool under one global connection cap. It routes a request to the host's
 * pool (creating it on first use), hands out connection slots under SCOUT_MAX_POOL_SIZE (evicting
 * the least recently used idle connection when full, otherwise queueing), and reaps idle
 * connections. Like undici's Agent → Pool → Client: Fleet → HostPool → SshConnection.
 */
import type { HostConfig } from "../config/host.js";
import type { Settings } from "../config/settings.js";
import { ScoutError, abortError } from "../errors.js";
import type { ConnectionDeps } from "./connection.js";
import {
  HostPool,
  type HostPoolLimits,
  type HostPoolStats,
  type PoolObserver,
  type PoolOwner,
} from "./host-pool.js";
import type { ExecChannel, ExecOptions, HostAccess, SftpContext, SftpOptions } from "./types.js";

export type FleetSettings = Pick<
  Settings,
  | "maxPoolSize"
  | "maxChannelsPerConnection"
  | "maxConnectionsPerHost"
  | "connectTimeoutMs"
  | "idleTimeoutMs"
  | "keepaliveIntervalMs"
>;

export type FleetObserver = PoolObserver;

export interface FleetOptions {
  settings: FleetSettings;
  /** Resolves an alias to its config; throws ScoutError("unknown-host") for aliases not served. */
  lookupHost(alias: string): HostConfig;
  connectionDeps: Omit<ConnectionDeps, "connectTimeoutMs" | "keepaliveIntervalMs">;
  observer?: FleetObserver;
  limits?: Partial<
    Pick<HostPoolLimits, "failureThreshold" | "backoffBaseMs" | "backoffMaxMs" | "waitTimeoutMs">
  >;
}

export interface FleetStats {
  open: number;
  maxPoolSize: number;
  waitingForSlot: number;
  hosts: HostPoolStats[];
}

interface SlotWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class Fleet implements PoolOwner {
  readonly connectionDeps: ConnectionDeps;
  readonly observer: FleetObserver;
  private readonly pools = new Map<string, HostPool>();
  /** Connections holding a slot under the global cap: open ones plus those being dialed. */
  private slotsInUse = 0;
  private readonly slotWaiters: SlotWaiter[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private readonly limits: HostPoolLimits;
  private closed = false;

  constructor(private readonly options: FleetOptions) {
    const s = options.settings;
    this.connectionDeps = {
      ...options.connectionDeps,
      connectTimeoutMs: s.connectTimeoutMs,
      keepaliveIntervalMs: s.keepaliveIntervalMs,
    };
    this.observer = options.observer ?? {};
    this.limits = {
      maxChannelsPerConnection: s.maxChannelsPerConnection,
      maxConnectionsPerHost: s.maxConnectionsPerHost,
      failureThreshold: options.limits?.failureThreshold ?? 3,
      backoffBaseMs: options.limits?.backoffBaseMs ?? 1000,
      backoffMaxMs: options.limits?.backoffMaxMs ?? 60_000,
      waitTimeoutMs: options.limits?.waitTimeoutMs ?? 30_000,
    };
  }

  /** The HostAccess for an alias; throws ScoutError("unknown-host") before any network traffic. */
  host(alias: string): HostAccess {
    const pool = this.poolFor(alias);
    return {
      config: pool.config,
      withSftp: <T>(fn: (ctx: SftpContext) => Promise<T>, opts?: SftpOptions) => pool.withSftp(fn, opts),
      exec: (command: string, opts?: ExecOptions): Promise<ExecChannel> => pool.exec(command, opts?.signal),
    };
  }

  /** True when the host has a live connection right now (so it is online without a probe). */
  isConnected(alias: string): boolean {
    return this.pools.get(alias)?.hasReadyConnection() ?? false;
  }

  /** When the host is in connect-failure backoff, when the next attempt will be made. */
  retryAt(alias: string): number | undefined {
    return this.pools.get(alias)?.retryAt;
  }

  private poolFor(alias: string): HostPool {
    if (this.closed) throw new ScoutError("aborted", "Scout is shutting down");
    const config = this.options.lookupHost(alias);
    let pool = this.pools.get(alias);
    if (!pool) {
      pool = new HostPool(config, this, this.limits);
      this.pools.set(alias, pool);
    } else {
      pool.retarget(config);
    }
    return pool;
  }

  // ---- PoolOwner: the global cap -------------------------------------------------------------

  reserveSlot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError(signal, "Waiting for a pool slot"));
    if (this.slotWaiters.length === 0 && this.slotsInUse < this.options.settings.maxPoolSize) {
      this.slotsInUse++;
      this.ensureSweeper();
      return Promise.resolve();
    }
    const queued = new Promise<void>((resolve, reject) => {
      const waiter: SlotWaiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.slotWaiters.indexOf(waiter);
          if (i >= 0) this.slotWaiters.splice(i, 1);
          reject(abortError(signal, "Waiting for a pool slot"));
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.slotWaiters.push(waiter);
    });
    this.evictForWaiters();
    return queued;
  }

  /** Closes LRU idle connections until every slot waiter has a slot coming (FIFO across hosts). */
  private evictForWaiters(): void {
    while (this.slotWaiters.length > this.closingCount() && this.evictIdle()) {
      /* each closed connection hands its slot to the head of the queue when its socket is gone */
    }
  }

  /** Connections we closed whose sockets are not gone yet: slots that are about to be freed. */
  private closingCount(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.closingCount();
    return n;
  }

  releaseSlot(): void {
    this.slotsInUse--;
    const next = this.slotWaiters.shift();
    if (next) {
      next.signal.removeEventListener("abort", next.onAbort);
      this.slotsInUse++;
      next.resolve();
    }
  }

  slotWanted(): boolean {
    // Cheap test first: this runs whenever any connection goes idle.
    return this.slotWaiters.length > 0 && this.slotWaiters.length > this.closingCount();
  }

  /** Closes the least recently used idle connection fleet-wide; false when every one is busy. */
  private evictIdle(): boolean {
    let victim: HostPool | undefined;
    let oldest = Infinity;
    for (const pool of this.pools.values()) {
      const t = pool.oldestIdle();
      if (t !== undefined && t < oldest) {
        oldest = t;
        victim = pool;
      }
    }
    return victim?.closeOldestIdle("evicted") ?? false;
  }

  // ---- idle reaping ---------------------------------------------------------------------------

  private ensureSweeper(): void {
    if (this.sweeper) return;
    const idle = this.options.settings.idleTimeoutMs;
    const every = Math.max(250, Math.min(idle / 2, 30_000));
    this.sweeper = setInterval(() => this.sweep(), every);
    // Reaping must never keep the process alive.
    this.sweeper.unref();
  }

  private sweep(): void {
    const cutoff = performance.now() - this.options.settings.idleTimeoutMs;
    for (const pool of this.pools.values()) pool.reapIdle(cutoff);
    if (this.slotsInUse === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  // ---- introspection and shutdown ---------------------------------------------------------------

  stats(): FleetStats {
    const hosts = [...this.pools.values()]
      .map((p) => p.stats())
      .filter((h) => h.connections + h.connecting + h.waiting > 0)
      .sort((a, b) => a.alias.localeCompare(b.alias));
    return {
      open: this.slotsInUse,
      maxPoolSize: this.options.settings.maxPoolSize,
      waitingForSlot: this.slotWaiters.length,
      hosts,
    };
  }

  /** Kills the commands still running, then closes every connection and refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const w of this.slotWaiters.splice(0)) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.reject(new ScoutError("aborted", "Scout is shutting down"));
    }
    // Commands still running would outlive their sessions on the hosts: kill them first.
    await Promise.all([...this.pools.values()].map((pool) => pool.killCommands()));
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}
