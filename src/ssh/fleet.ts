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
  | "rttDeadlineMinMs"
  | "rttDeadlineMaxMs"
  | "pipelineMinRttMs"
  | "openAheadMinRttMs"
>;

export type FleetObserver = PoolObserver;

export interface FleetOptions {
  settings: FleetSettings;
  /** Resolves an alias to its config; throws ScoutError("unknown-host") for aliases not served. */
  lookupHost(alias: string): HostConfig;
  connectionDeps: Omit<ConnectionDeps, "connectTimeoutMs" | "keepaliveIntervalMs">;
  observer?: FleetObserver;
  limits?: Partial<
    Pick<
      HostPoolLimits,
      "failureThreshold" | "backoffBaseMs" | "backoffMaxMs" | "waitTimeoutMs" | "redialRecentMs"
    >
  >;
}

export interface FleetStats {
  open: number;
  maxPoolSize: number;
  waitingForSlot: number;
  hosts: HostPoolStats[];
}

/** Background connects in flight at once (a start-up warming of 1,000 hosts must not stampede). */
const WARM_CONCURRENCY = 16;

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
  /** Pools that may want a background connect (kept warm, or recently used and dropped). */
  private readonly warmCandidates = new Set<HostPool>();
  private warmInFlight = 0;
  private warmScheduled = false;
  private warmTimer: NodeJS.Timeout | undefined;
  private warmTimerAt = Infinity;

  constructor(private readonly options: FleetOptions) {
    const s = options.settings;
    this.connectionDeps = {
      ...options.connectionDeps,
      connectTimeoutMs: s.connectTimeoutMs,
      keepaliveIntervalMs: s.keepaliveIntervalMs,
      rttDeadline: {
        minMs: Math.min(s.rttDeadlineMinMs, s.rttDeadlineMaxMs),
        maxMs: s.rttDeadlineMaxMs,
      },
      pipelineMinRttMs: s.pipelineMinRttMs,
      openAheadMinRttMs: s.openAheadMinRttMs,
    };
    this.observer = options.observer ?? {};
    this.limits = {
      maxChannelsPerConnection: s.maxChannelsPerConnection,
      maxConnectionsPerHost: s.maxConnectionsPerHost,
      failureThreshold: options.limits?.failureThreshold ?? 3,
      backoffBaseMs: options.limits?.backoffBaseMs ?? 1000,
      backoffMaxMs: options.limits?.backoffMaxMs ?? 60_000,
      waitTimeoutMs: options.limits?.waitTimeoutMs ?? 30_000,
      // "Recently used" = the connection would still be open had it not dropped.
      redialRecentMs: options.limits?.redialRecentMs ?? s.idleTimeoutMs,
    };
  }

  /** The HostAccess for an alias; throws ScoutError("unknown-host") before any network traffic. */
  host(alias: string): HostAccess {
    const pool = this.poolFor(alias);
    // No promise hop on the hot path: the pool is looked up again only if the sweep dropped it.
    const live = (): HostPool => (this.pools.get(alias) === pool ? pool : this.poolFor(alias));
    return {
      config: pool.config,
      withSftp: <T>(fn: (ctx: SftpContext) => Promise<T>, opts?: SftpOptions): Promise<T> => {
        let p: HostPool;
        try {
          p = live();
        } catch (e) {
          return Promise.reject(e);
        }
        return p.withSftp(fn, opts);
      },
      exec: (command: string, opts?: ExecOptions): Promise<ExecChannel> => {
        let p: HostPool;
        try {
          p = live();
        } catch (e) {
          return Promise.reject(e);
        }
        return p.exec(command, opts?.signal);
      },
    };
  }

  /** Pools the fleet holds (one per host used recently, kept warm, or busy). */
  get poolCount(): number {
    return this.pools.size;
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
      this.ensureSweeper(); // which also forgets the pool once it is unused for long
    } else {
      pool.retarget(config);
    }
    return pool;
  }

  // ---- warming ------------------------------------------------------------------------------

  /**
   * Keeps these aliases warm (SCOUT_WARM_HOSTS): each gets a connection in the background as soon
   * as a slot under the global cap is free, keeps it however long it is idle, and gets it back
   * (backing off while the host is dead) when it drops. Replaces the previous set. Returns how
   * many of them fit under the cap (the rest stay cold until slots free up).
   */
  warm(aliases: Iterable<string>): { warm: number; fit: number } {
    const wanted = new Set<HostPool>();
    for (const alias of aliases) wanted.add(this.poolFor(alias));
    for (const pool of this.pools.values()) if (!wanted.has(pool)) pool.setKeepWarm(false);
    for (const pool of wanted) pool.setKeepWarm(true);
    return { warm: wanted.size, fit: Math.min(wanted.size, this.options.settings.maxPoolSize) };
  }

  warmWanted(pool: HostPool): void {
    if (this.closed) return;
    this.warmCandidates.add(pool);
    this.scheduleWarm();
  }

  tryReserveSlot(): boolean {
    if (this.closed || this.slotWaiters.length > 0) return false;
    if (this.slotsInUse >= this.options.settings.maxPoolSize) return false;
    this.slotsInUse++;
    this.ensureSweeper();
    return true;
  }

  private scheduleWarm(): void {
    if (this.warmScheduled || this.closed) return;
    this.warmScheduled = true;
    setImmediate(() => {
      this.warmScheduled = false;
      this.maintainWarm();
    }).unref();
  }

  /** Starts background connects for the candidates, a few at a time, within free slots only. */
  private maintainWarm(): void {
    if (this.closed) return;
    const now = performance.now();
    let nextAt = Infinity;
    for (const pool of [...this.warmCandidates]) {
      const want = pool.wantsWarmConnection(now);
      if (want === undefined || want === false) {
        this.warmCandidates.delete(pool);
        continue;
      }
      if (typeof want === "number") {
        nextAt = Math.min(nextAt, want);
        continue;
      }
      if (this.warmInFlight >= WARM_CONCURRENCY) break;
      if (this.slotWaiters.length > 0 || this.slotsInUse >= this.options.settings.maxPoolSize) break;
      this.warmCandidates.delete(pool);
      this.warmInFlight++;
      void pool.prewarm().then((connected) => {
        this.warmInFlight--;
        // No slot after all (taken meanwhile): still a candidate for the next free slot.
        if (!connected && pool.wantsWarmConnection() === true) this.warmCandidates.add(pool);
        this.scheduleWarm();
      });
    }
    if (nextAt < Infinity && nextAt < this.warmTimerAt) {
      clearTimeout(this.warmTimer);
      this.warmTimerAt = nextAt;
      this.warmTimer = setTimeout(
        () => {
          this.warmTimerAt = Infinity;
          this.warmTimer = undefined;
          this.scheduleWarm();
        },
        Math.max(0, nextAt - now),
      );
      this.warmTimer.unref();
    }
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
    } else if (this.warmCandidates.size > 0) {
      this.scheduleWarm();
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

  /**
   * Reaps idle connections, then forgets the pools that hold nothing and were not used within the
   * idle timeout, and the empty pools of hosts no longer configured, so that the pool map follows
   * the hosts in use rather than every host ever asked for.
   */
  private sweep(): void {
    const cutoff = performance.now() - this.options.settings.idleTimeoutMs;
    for (const [alias, pool] of this.pools) {
      pool.reapIdle(cutoff);
      if (pool.disposable(cutoff) || (pool.isEmpty && !this.configured(alias))) {
        this.pools.delete(alias);
        this.warmCandidates.delete(pool);
      }
    }
    if (this.slotsInUse === 0 && this.pools.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private configured(alias: string): boolean {
    try {
      this.options.lookupHost(alias);
      return true;
    } catch {
      return false;
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
    clearTimeout(this.warmTimer);
    this.warmCandidates.clear();
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
