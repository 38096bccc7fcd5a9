/**
 * All connections to one host: single-flight connects, channel accounting across connections,
 * growth up to the per-host limit, a FIFO of waiters, and connect-failure backoff.
 *
 * No lock is ever held across I/O: the state below is only touched synchronously, and a connect in
 * flight is a counter plus a promise that every interested caller shares.
 */
import type { HostConfig } from "../config/host.js";
import { ScoutError, abortError, isScoutError } from "../errors.js";
import { SshConnection, configProblem, type ConnectionDeps, type ConnectionRtt } from "./connection.js";
import type { ExecChannel, SftpContext, SftpOptions } from "./types.js";
import { raceSignal } from "./abort.js";
import { connectDeadline } from "./rtt.js";

export interface HostPoolLimits {
  maxChannelsPerConnection: number;
  maxConnectionsPerHost: number;
  /** Consecutive connect failures before the host is marked down. */
  failureThreshold: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Bound on waiting for a connection or channel when the caller gave no signal. */
  waitTimeoutMs: number;
  /**
   * A host used within this many ms whose connection drops is re-dialed in the background, so
   * that the next call finds a warm connection (0: never).
   */
  redialRecentMs: number;
}

/** What a HostPool needs from the fleet that owns it. */
export interface PoolOwner {
  readonly connectionDeps: ConnectionDeps;
  /** Waits for a slot under the global connection cap (evicting an idle connection if needed). */
  reserveSlot(signal: AbortSignal): Promise<void>;
  releaseSlot(): void;
  /**
   * True when someone is waiting for a slot under the global cap that no closing connection will
   * free: an idle connection of this pool should then be given up.
   */
  slotWanted(): boolean;
  /**
   * Takes a free slot under the global cap if there is one right now, without evicting anything
   * or queueing: background (warming) connects never push out work that a client asked for.
   */
  tryReserveSlot(): boolean;
  /** Told when this pool wants a background connection (see wantsWarmConnection). */
  warmWanted(pool: HostPool): void;
  readonly observer: PoolObserver;
}

/** What the fleet sees of one pool (stats, /health, metrics). */
export interface HostPoolStats {
  alias: string;
  connections: number;
  connecting: number;
  idle: number;
  waiting: number;
  /** Round trips measured on the host's most recently used connection. */
  rtt?: ConnectionRtt;
}

export type CloseReason = "idle" | "evicted" | "lost" | "shutdown" | "retired";

export interface PoolObserver {
  hit?(host: string): void;
  miss?(host: string): void;
  waited?(host: string, seconds: number): void;
  connectStart?(host: string): void;
  connected?(host: string, seconds: number): void;
  connectFailed?(host: string, reason: string, seconds: number): void;
  connectionClosed?(host: string, reason: CloseReason): void;
  /** A connection was closed to free a slot under the global cap for another request. */
  evicted?(host: string): void;
}

type Waiter =
  | { kind: "sftp"; resolve: (c: SshConnection) => void; reject: (e: unknown) => void; cancel: () => void }
  | {
      kind: "exec";
      command: string;
      resolve: (ch: Promise<ExecChannel>) => void;
      reject: (e: unknown) => void;
      cancel: () => void;
    };

export class HostPool {
  private currentConfig: HostConfig;
  private readonly connections: SshConnection[] = [];
  private connecting = 0;
  private readonly waiters: Waiter[] = [];
  private readonly pendingReservations = new Set<AbortController>();
  private consecutiveFailures = 0;
  private downUntil = 0;
  private lastError: ScoutError | undefined;
  private closed = false;
  /** RTO (ms) of the host's last closed connection. */
  private lastRtoMs: number | undefined;
  /** Bumped when the alias's config points elsewhere (see retarget). */
  private generation = 0;
  /** The config generation each connection was dialed with. */
  private readonly generationOf = new WeakMap<SshConnection, number>();
  /** SCOUT_WARM_HOSTS: keep one connection open at all times (within the global cap). */
  private keepWarm = false;
  /** performance.now() of the last request a client made to this host. */
  private lastDemandAt = -Infinity;
  /** The last connection went away on its own (not closed by us) since the host was last used. */
  private lostSinceDemand = false;
  /** performance.now() of the last failed connect (background re-dials back off from it). */
  private lastFailureAt = -Infinity;

  constructor(
    config: HostConfig,
    private readonly owner: PoolOwner,
    private readonly limits: HostPoolLimits,
  ) {
    this.currentConfig = config;
  }

  get config(): HostConfig {
    return this.currentConfig;
  }

  get alias(): string {
    return this.currentConfig.alias;
  }

  /**
   * Takes the alias's current config. When it now points elsewhere, new connections use the new
   * config and the old ones are closed as soon as they are idle (busy ones when they next idle).
   */
  retarget(config: HostConfig): void {
    const moved = config !== this.currentConfig && !sameTarget(this.currentConfig, config);
    this.currentConfig = config;
    if (!moved) return;
    this.generation++;
    for (const c of [...this.connections]) if (c.isIdle) this.closeConnection(c, "retired");
  }

  /** True when the host has a live connection right now (so it is online without a probe). */
  hasReadyConnection(): boolean {
    return this.connections.some((c) => c.state === "ready");
  }

  /** Connections this pool closed whose sockets are not gone yet: slots about to be freed. */
  closingCount(): number {
    let n = 0;
    for (const c of this.connections) if (c.state === "closed") n++;
    return n;
  }

  /** lastUsed of the least recently used idle connection, if any (for the fleet's global LRU). */
  oldestIdle(): number | undefined {
    return this.lruIdle()?.lastUsed;
  }

  /** Closes the least recently used idle connection; false when none is idle. */
  closeOldestIdle(reason: "evicted" | "idle"): boolean {
    const victim = this.lruIdle();
    if (!victim) return false;
    this.closeConnection(victim, reason);
    return true;
  }

  /** Closes the idle connections unused since `cutoff` (performance.now() time). */
  reapIdle(cutoff: number): void {
    for (const c of [...this.connections]) {
      // A host kept warm keeps its last connection however long it is idle.
      if (this.keepWarm && this.connections.length - this.closingCount() <= 1) return;
      if (c.isIdle && c.lastUsed < cutoff) this.closeConnection(c, "idle");
    }
  }

  /** Nothing open, on the way or waiting: the pool holds no resource and no work. */
  get isEmpty(): boolean {
    return (
      this.connections.length === 0 &&
      this.connecting === 0 &&
      this.waiters.length === 0 &&
      this.pendingReservations.size === 0
    );
  }

  /**
   * Whether the fleet may forget this pool: empty, not kept warm, not backing off from failures
   * (forgetting would reset the back-off), and not asked for since `cutoff` (performance.now()
   * time). What it loses is only the host's last RTT (a fresh dial measures it again).
   */
  disposable(cutoff: number): boolean {
    return (
      this.isEmpty &&
      !this.keepWarm &&
      this.retryAt === undefined &&
      this.lastDemandAt < cutoff &&
      this.wantsWarmConnection() === undefined
    );
  }

  // ---- warming --------------------------------------------------------------------------------

  /** Marks the host as one to keep warm (SCOUT_WARM_HOSTS), or not any more. */
  setKeepWarm(on: boolean): void {
    if (this.keepWarm === on) return;
    this.keepWarm = on;
    if (on) this.owner.warmWanted(this);
  }

  get isKeptWarm(): boolean {
    return this.keepWarm;
  }

  /**
   * Whether a background connect is wanted now: the host is kept warm, or was used recently and
   * lost its connection; it has no connection and none on the way. `undefined` when it will never
   * be wanted again without new demand (the caller may forget the pool); a number is the
   * performance.now() time before which a dead host's back-off forbids trying.
   */
  wantsWarmConnection(now = performance.now()): boolean | number | undefined {
    if (this.closed || configProblem(this.config)) return undefined;
    const recent =
      this.lostSinceDemand &&
      this.limits.redialRecentMs > 0 &&
      now - this.lastDemandAt < this.limits.redialRecentMs;
    if (!this.keepWarm && !recent) return undefined;
    if (this.connections.length > 0 || this.connecting > 0) return false;
    const notBefore = this.lastFailureAt + this.warmBackoffMs();
    return now < notBefore ? notBefore : true;
  }

  /**
   * Starts one background connect if a slot under the cap is free right now. Resolves when the
   * attempt has settled (true: connected), or at once with false when no slot was free.
   */
  prewarm(): Promise<boolean> {
    if (this.wantsWarmConnection() !== true || !this.owner.tryReserveSlot()) return Promise.resolve(false);
    return this.startConnect(true);
  }

  /** Back-off between background attempts on a failing host: base·2^(n−1), capped. */
  private warmBackoffMs(): number {
    if (this.consecutiveFailures === 0) return 0;
    const exp = Math.min(this.consecutiveFailures - 1, 30);
    return Math.min(this.limits.backoffBaseMs * 2 ** exp, this.limits.backoffMaxMs);
  }

  private noteDemand(): void {
    this.lastDemandAt = performance.now();
    this.lostSinceDemand = false;
  }

  stats(): HostPoolStats {
    return {
      alias: this.alias,
      connections: this.connections.length,
      connecting: this.connecting,
      idle: this.connections.filter((c) => c.isIdle).length,
      waiting: this.waiters.length,
      ...this.rttStats(),
    };
  }

  private rttStats(): { rtt?: ConnectionRtt } {
    const rtt = this.rttInfo();
    return rtt ? { rtt } : {};
  }

  /** Kills the commands still running on this pool's connections (see SshConnection.killCommands). */
  async killCommands(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.killCommands()));
  }

  private lruIdle(): SshConnection | undefined {
    let victim: SshConnection | undefined;
    for (const c of this.connections) {
      if (c.isIdle && (!victim || c.lastUsed < victim.lastUsed)) victim = c;
    }
    return victim;
  }

  private closeConnection(conn: SshConnection, reason: CloseReason): void {
    if (reason === "evicted") this.owner.observer.evicted?.(this.alias);
    this.owner.observer.connectionClosed?.(this.alias, reason);
    // The slot is released (through the close listener in adopt) when the socket has closed.
    conn.close();
  }

  /** When the host is in connect-failure backoff, the time (ms since epoch) of the next attempt. */
  /** Round trips of the host's most recently used ready connection (undefined without one). */
  rttInfo(): ConnectionRtt | undefined {
    let latest: SshConnection | undefined;
    for (const c of this.connections)
      if (c.state === "ready" && (!latest || c.lastUsed > latest.lastUsed)) latest = c;
    return latest?.rttInfo();
  }

  get retryAt(): number | undefined {
    return this.downUntil > Date.now() ? this.downUntil : undefined;
  }

  async withSftp<T>(fn: (ctx: SftpContext) => Promise<T>, options: SftpOptions = {}): Promise<T> {
    const idempotent = options.idempotent ?? true;
    this.noteDemand();
    const invalid = configProblem(this.config);
    if (invalid) throw invalid;
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquireSftp(options.signal);
      try {
        const ctx = await raceSignal(conn.sftp(), options.signal, `SFTP on ${this.alias}`);
        return await fn(ctx);
      } catch (e) {
        if ((conn.state === "closed" || isDeadChannelError(e)) && !options.signal?.aborted) {
          // The connection died under us: safe to retry once if the work only read.
          if (idempotent && attempt === 0) continue;
          throw new ScoutError(
            "connection-lost",
            `Connection to ${this.alias} was lost during the operation`,
            {
              hint: idempotent ? "Try again" : "The write may be incomplete; check the target and try again",
              cause: e,
            },
          );
        }
        throw e;
      } finally {
        conn.unlease();
        this.afterRelease(conn);
      }
    }
  }

  exec(command: string, signal?: AbortSignal): Promise<ExecChannel> {
    this.noteDemand();
    const invalid = configProblem(this.config);
    if (invalid) return Promise.reject(invalid);
    const conn = this.pickExec();
    if (conn && this.waiters.length === 0) {
      this.owner.observer.hit?.(this.alias);
      return this.startExec(conn, command);
    }
    return this.enqueue(signal, (resolve, reject, cancel) => ({
      kind: "exec",
      command,
      resolve: (p) => p.then(resolve, reject),
      reject,
      cancel,
    }));
  }

  private acquireSftp(signal?: AbortSignal): Promise<SshConnection> {
    const conn = this.pickSftp();
    if (conn && this.waiters.length === 0) {
      this.owner.observer.hit?.(this.alias);
      conn.lease();
      return Promise.resolve(conn);
    }
    return this.enqueue(signal, (resolve, reject, cancel) => ({ kind: "sftp", resolve, reject, cancel }));
  }

  private startExec(conn: SshConnection, command: string): Promise<ExecChannel> {
    return conn.exec(command);
  }

  private enqueue<T>(
    signal: AbortSignal | undefined,
    make: (resolve: (v: T) => void, reject: (e: unknown) => void, cancel: () => void) => Waiter,
  ): Promise<T> {
    const retryAt = this.retryAt;
    if (retryAt !== undefined) return Promise.reject(this.downError(retryAt));
    if (this.closed) return Promise.reject(new ScoutError("aborted", "Scout is shutting down"));
    this.owner.observer.miss?.(this.alias);
    const started = performance.now();
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.owner.observer.waited?.(this.alias, (performance.now() - started) / 1000);
      };
      const remove = (err: unknown) => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        cleanup();
        reject(err);
        this.cancelUnneededReservations();
      };
      const onAbort = () => remove(abortError(signal, `Waiting for a connection to ${this.alias}`));
      const waiter = make(
        (v) => {
          cleanup();
          resolve(v);
        },
        (e) => {
          cleanup();
          reject(e);
        },
        () => remove(new ScoutError("aborted", "cancelled")),
      );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (!signal) {
        timer = setTimeout(
          () =>
            remove(
              new ScoutError(
                "pool-timeout",
                `Timed out after ${this.limits.waitTimeoutMs / 1000} s waiting for a connection to ${this.alias}`,
                {
                  hint: "The host or the connection pool is saturated; retry later or raise SCOUT_MAX_POOL_SIZE",
                },
              ),
            ),
          this.limits.waitTimeoutMs,
        );
        timer.unref();
      }
      this.waiters.push(waiter);
      this.drain();
    });
  }

  private pickSftp(): SshConnection | undefined {
    let best: SshConnection | undefined;
    for (const c of this.connections) {
      if (c.state === "ready" && c.hasSftp && (!best || c.leases < best.leases)) best = c;
    }
    if (best) return best;
    for (const c of this.connections) {
      if (c.state === "ready" && c.channels < this.limits.maxChannelsPerConnection) return c;
    }
    return undefined;
  }

  private pickExec(): SshConnection | undefined {
    let best: SshConnection | undefined;
    for (const c of this.connections) {
      if (c.state === "ready" && c.channels < this.limits.maxChannelsPerConnection) {
        if (!best || c.channels < best.channels) best = c;
      }
    }
    return best;
  }

  /** Serves queued waiters in FIFO order as far as capacity allows, then grows if still short. */
  private drain(): void {
    let sftpBlocked = false;
    let execBlocked = false;
    for (let i = 0; i < this.waiters.length && !(sftpBlocked && execBlocked);) {
      const w = this.waiters[i] as Waiter;
      if (w.kind === "sftp") {
        const conn = sftpBlocked ? undefined : this.pickSftp();
        if (!conn) {
          sftpBlocked = true;
          i++;
          continue;
        }
        this.waiters.splice(i, 1);
        conn.lease();
        void conn.sftp().catch(() => {}); // open now so the channel slot is taken synchronously
        w.resolve(conn);
      } else {
        const conn = execBlocked ? undefined : this.pickExec();
        if (!conn) {
          execBlocked = true;
          i++;
          continue;
        }
        this.waiters.splice(i, 1);
        w.resolve(this.startExec(conn, w.command));
      }
    }
    this.grow();
  }

  private grow(): void {
    if (this.closed || this.retryAt !== undefined) return;
    let execDemand = 0;
    let sftpDemand = 0;
    for (const w of this.waiters) {
      if (w.kind === "exec") execDemand++;
      else sftpDemand = 1; // one SFTP session serves every reader
    }
    const demand = execDemand + sftpDemand;
    while (
      demand > this.connecting * this.limits.maxChannelsPerConnection &&
      this.connections.length + this.connecting < this.limits.maxConnectionsPerHost
    ) {
      void this.startConnect();
    }
  }

  /** Dials one connection; resolves when the attempt settled (true: it connected and was adopted). */
  private startConnect(preReserved = false): Promise<boolean> {
    this.connecting++;
    const reservation = new AbortController();
    if (!preReserved) this.pendingReservations.add(reservation);
    const started = performance.now();
    let generation = this.generation;
    let reserved = false;
    const slot = preReserved ? Promise.resolve() : this.owner.reserveSlot(reservation.signal);
    return slot
      .then(async () => {
        reserved = true;
        this.pendingReservations.delete(reservation);
        this.owner.observer.connectStart?.(this.alias);
        generation = this.generation;
        const conn = new SshConnection(this.config);
        await conn.connect(this.connectDeps());
        return conn;
      })
      .then(
        (conn) => {
          this.connecting--;
          this.consecutiveFailures = 0;
          this.lastError = undefined;
          this.owner.observer.connected?.(this.alias, (performance.now() - started) / 1000);
          if (this.closed) {
            conn.close();
            this.owner.releaseSlot();
            return false;
          }
          this.adopt(conn, generation);
          // A background (warming) connect also opens the SFTP session and resolves the home
          // directory, so that the next call's first read costs no extra round trips.
          if (preReserved) void conn.sftp().catch(() => {});
          this.drain();
          this.afterRelease(conn);
          return true;
        },
        (e: unknown) => {
          this.connecting--;
          this.pendingReservations.delete(reservation);
          if (!reserved) {
            // Nobody needed the connection any more; not a host failure.
            this.drain();
            return false;
          }
          this.owner.releaseSlot();
          const err = isScoutError(e)
            ? e
            : new ScoutError("connection-lost", `Cannot connect to ${this.alias}: ${String(e)}`, {
                cause: e,
              });
          this.owner.observer.connectFailed?.(this.alias, err.code, (performance.now() - started) / 1000);
          this.lastError = err;
          this.consecutiveFailures++;
          this.lastFailureAt = performance.now();
          if (this.consecutiveFailures >= this.limits.failureThreshold) {
            const exp = this.consecutiveFailures - this.limits.failureThreshold;
            const backoff = Math.min(this.limits.backoffBaseMs * 2 ** exp, this.limits.backoffMaxMs);
            this.downUntil = Date.now() + backoff;
          }
          // Without any connection nobody queued can be served: fail them with the reason.
          if (this.connections.length === 0 && this.connecting === 0) {
            for (const w of this.waiters.splice(0)) w.reject(err);
          } else {
            this.drain();
          }
          // A background re-dial keeps trying (backing off) while it is still wanted.
          if (this.wantsWarmConnection() !== undefined) this.owner.warmWanted(this);
          return false;
        },
      );
  }

  /** Dial deps with the connect deadline stretched to this host's measured RTT (see connectDeadline). */
  private connectDeps(): ConnectionDeps {
    const deps = this.owner.connectionDeps;
    const rto = this.rttInfo()?.rtoMs ?? this.lastRtoMs;
    const ms = connectDeadline(deps.connectTimeoutMs, rto, deps.rttDeadline?.maxMs ?? deps.connectTimeoutMs);
    return ms === deps.connectTimeoutMs ? deps : { ...deps, connectTimeoutMs: ms };
  }

  private adopt(conn: SshConnection, generation: number): void {
    this.connections.push(conn);
    this.generationOf.set(conn, generation);
    conn.on("slotFreed", () => this.afterRelease(conn));
    conn.once("close", () => {
      // The host's RTT outlives its connection: the next dial's deadline is derived from it.
      this.lastRtoMs = conn.rtt.rtoMs ?? this.lastRtoMs;
      const i = this.connections.indexOf(conn);
      if (i >= 0) this.connections.splice(i, 1);
      this.owner.releaseSlot();
      // Lost on its own: re-dial if recently used. Closed by us (idle, evicted): that was meant.
      this.lostSinceDemand = conn.closeReason !== undefined;
      if (conn.closeReason) this.owner.observer.connectionClosed?.(this.alias, "lost");
      // Waiters may now need a replacement connection.
      this.drain();
      // Nobody waiting, but a warm or recently used host: re-dial in the background.
      if (
        this.connections.length === 0 &&
        this.connecting === 0 &&
        this.wantsWarmConnection() !== undefined
      ) {
        this.owner.warmWanted(this);
      }
    });
  }

  private afterRelease(conn: SshConnection): void {
    if (this.waiters.length > 0) this.drain();
    if (!conn.isIdle) return;
    if (this.generationOf.get(conn) !== this.generation) this.closeConnection(conn, "retired");
    // Someone is waiting for a slot under the cap: an idle connection is the one to give up.
    else if (this.owner.slotWanted()) this.closeConnection(conn, "evicted");
  }

  private cancelUnneededReservations(): void {
    if (this.waiters.length > 0) return;
    for (const r of this.pendingReservations) r.abort();
    this.pendingReservations.clear();
  }

  private downError(retryAt: number): ScoutError {
    const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
    const last = this.lastError ? ` Last error: ${this.lastError.message}.` : "";
    return new ScoutError(
      "host-down",
      `${this.alias} is marked down after ${this.consecutiveFailures} failed connection attempts.${last} Next attempt in ${seconds} s`,
      { hint: "Fix the cause above, or wait for the retry" },
    );
  }

  /** Closes every connection and fails every waiter (shutdown); resolves when the sockets are gone. */
  close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new ScoutError("aborted", "Scout is shutting down"));
    for (const r of this.pendingReservations) r.abort();
    this.pendingReservations.clear();
    const gone = this.connections.map(
      (c) =>
        new Promise<void>((resolve) => (c.state === "closed" ? resolve() : c.once("close", () => resolve()))),
    );
    for (const c of [...this.connections]) this.closeConnection(c, "shutdown");
    return Promise.all(gone).then(() => {});
  }
}

/** Errors ssh2 raises for requests cut off by a dying channel or connection (searched through causes). */
function isDeadChannelError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (/No response from server|Not connected|ECONNRESET|EPIPE|Channel open failure/.test(cur.message))
      return true;
    if (isScoutError(cur, "connection-lost")) return true;
  }
  return false;
}

function sameTarget(a: HostConfig, b: HostConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
