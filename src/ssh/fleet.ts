/**
 * The fleet: every host's pool under one global connection cap. It routes a request to the host's
 * pool (creating it on first use), hands out connection slots under SCOUT_MAX_POOL_SIZE (evicting
 * the least recently used idle connection when full, otherwise queueing), and reaps idle
 * connections. Like undici's Agent → Pool → Client: Fleet → HostPool → SshConnection.
 */
import type { ClientChannel } from "ssh2";
import type { HostConfig } from "../config/host.js";
import type { Settings } from "../config/settings.js";
import { ScoutError, abortError } from "../errors.js";
import type { ConnectionDeps, SshConnection } from "./connection.js";
import { HostPool, type HostPoolLimits, type PoolObserver, type PoolOwner } from "./host-pool.js";
import type { ExecOptions, HostAccess, SftpContext, SftpOptions } from "./types.js";

export type FleetSettings = Pick<
  Settings,
  | "maxPoolSize"
  | "maxChannelsPerConnection"
  | "maxConnectionsPerHost"
  | "connectTimeoutMs"
  | "idleTimeoutMs"
  | "keepaliveIntervalMs"
>;

export interface FleetObserver extends PoolObserver {
  evicted?(host: string): void;
}

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
  hosts: Array<{ alias: string; connections: number; connecting: number; idle: number; waiting: number }>;
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
      exec: (command: string, opts?: ExecOptions): Promise<ClientChannel> => pool.exec(command, opts?.signal),
    };
  }

  /** True when the host has a live connection right now (so it is online without a probe). */
  isConnected(alias: string): boolean {
    return this.pools.get(alias)?.connections.some((c) => c.state === "ready") ?? false;
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
    } else if (pool.config !== config && !sameTarget(pool.config, config)) {
      // The ssh config changed where this alias points: new connections use the new config, and
      // the old ones are closed as soon as they are idle.
      pool.config = config;
      for (const c of [...pool.connections]) if (c.isIdle) this.closeConnection(c, "retired");
    } else {
      pool.config = config;
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
    for (const pool of this.pools.values()) for (const c of pool.connections) if (c.state === "closed") n++;
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

  connectionIdle(conn: SshConnection): void {
    // Someone is waiting for a slot under the cap: an idle connection is the one to give up.
    if (this.slotWaiters.length > this.closingCount()) this.closeConnection(conn, "evicted");
  }

  /** Closes the least recently used idle connection; false when every connection is busy. */
  private evictIdle(): boolean {
    let victim: SshConnection | undefined;
    for (const pool of this.pools.values()) {
      for (const c of pool.connections) {
        if (c.isIdle && (!victim || c.lastUsed < victim.lastUsed)) victim = c;
      }
    }
    if (!victim) return false;
    this.closeConnection(victim, "evicted");
    return true;
  }

  private closeConnection(conn: SshConnection, reason: "idle" | "evicted" | "retired"): void {
    if (reason === "evicted") this.observer.evicted?.(conn.host.alias);
    this.observer.connectionClosed?.(conn.host.alias, reason);
    // The slot is released through the pool when the connection's socket has closed.
    conn.close();
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
    for (const pool of this.pools.values()) {
      for (const c of [...pool.connections]) {
        if (c.isIdle && c.lastUsed < cutoff) this.closeConnection(c, "idle");
      }
    }
    if (this.slotsInUse === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  // ---- introspection and shutdown ---------------------------------------------------------------

  stats(): FleetStats {
    const hosts = [...this.pools.values()]
      .map((p) => ({
        alias: p.alias,
        connections: p.connections.length,
        connecting: p.connectingCount,
        idle: p.connections.filter((c) => c.isIdle).length,
        waiting: p.waiting,
      }))
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
    await Promise.all(
      [...this.pools.values()].flatMap((pool) => pool.connections.map((c) => c.killCommands())),
    );
    const closing: Array<Promise<void>> = [];
    for (const pool of this.pools.values()) {
      for (const c of pool.connections) {
        closing.push(
          new Promise((resolve) => (c.state === "closed" ? resolve() : c.once("close", () => resolve()))),
        );
      }
      pool.close("shutdown");
    }
    await Promise.all(closing);
  }
}

function sameTarget(a: HostConfig, b: HostConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
