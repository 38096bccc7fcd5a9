/**
 * One SSH connection: an ssh2 Client (dialed by src/ssh/dial.ts, with the resources of its
 * route: ProxyJump clients, ProxyCommand processes), its lazily opened SFTP session, and the accounting of its channel slots. It knows nothing about pools: the
 * HostPool decides which connection serves a request and when one is closed.
 */
import { EventEmitter } from "node:events";
import type { Client, ClientChannel, SFTPWrapper } from "ssh2";
import type { HostConfig } from "../config/host.js";
import { ScoutError } from "../errors.js";
import { ExecChannel } from "./channel-state.js";
import type { SftpContext } from "./types.js";
import { configProblem, dial, Route, type DialDeps } from "./dial.js";

import { Liveness, PROBE_RTOS, sshPinger } from "./liveness.js";
import { RttEstimator, rttDeadline, type DeadlineBounds, type RttSnapshot } from "./rtt.js";

/** Defaults of the RTT-derived settings (SCOUT_RTT_DEADLINE_MIN/MAX, SCOUT_PIPELINE_MIN_RTT). */
export const DEFAULT_RTT_DEADLINE: DeadlineBounds = { minMs: 1000, maxMs: 30_000 };
export const DEFAULT_PIPELINE_MIN_RTT_MS = 0;
/** Default of SCOUT_OPEN_AHEAD_MIN_RTT: on a LAN the round trip saved is worth less than an open. */
export const DEFAULT_OPEN_AHEAD_MIN_RTT_MS = 10;
/** Late keepalive replies in a row that make a connection dead (ssh's ServerAliveCountMax default). */
const KEEPALIVE_COUNT_MAX = 3;

/** What dialing needs (src/ssh/dial.ts), plus what the connection does after it. */
export type ConnectionDeps = DialDeps & {
  /** Bounds of the deadlines derived from the connection's RTT (keepalive replies, overdue SFTP). */
  rttDeadline?: DeadlineBounds;
  /** One read's SFTP requests are pipelined when the connection's lowest RTT is at least this (ms). */
  pipelineMinRttMs?: number;
  /** A read of a path new to the session opens it with the stat when the lowest RTT is at least this. */
  openAheadMinRttMs?: number;
};

/** What a connection reports about its round trips (/health?verbose=1, metrics). */
export interface ConnectionRtt extends RttSnapshot {
  /** Whether one read's SFTP requests are pipelined on this connection now. */
  pipelined: boolean;
  /** Whether a read of a path new to the session sends its open with the stat. */
  openAhead: boolean;
  /** The deadline a keepalive probe sent now would get (ms). */
  deadlineMs: number;
}
/** Kept here for the pool's imports: dialing owns it. */
export { configProblem };

export type ConnectionState = "connecting" | "ready" | "closed";

let nextConnectionId = 1;

export class SshConnection extends EventEmitter<{ close: [reason: ScoutError | undefined]; slotFreed: [] }> {
  readonly id = nextConnectionId++;
  readonly host: HostConfig;
  state: ConnectionState = "connecting";
  /** Channel slots in use: open exec channels, plus one while the SFTP session is open or opening. */
  channels = 0;
  /** SFTP users currently borrowing this connection (see lease/unlease). */
  private leaseCount = 0;
  /** performance.now() of the last use: monotonic and sub-millisecond, so LRU order is exact. */
  private lastUsedAt = performance.now();
  readonly createdAt = Date.now();
  /** Why the connection closed, when it did not close on our request. */
  closeReason: ScoutError | undefined;
  /** Smoothed RTT from this connection's keepalive replies and lone SFTP requests. */
  readonly rtt = new RttEstimator();

  private client: Client | undefined;
  /**
   * Retired SFTP sessions whose channel has not closed yet (see SftpContext.retire). They keep
   * their channel slot, but do not keep the connection from being idle and reaped.
   */
  private retiredSftp = 0;
  /** Exec channels still open, marked as lost if the connection dies under them. */
  private readonly openExec = new Set<ExecChannel>();
  /** The dialed chain (jump clients, ProxyCommand processes), owned from connect() on. */
  private route: Route | undefined;
  private sftpContext: Promise<SftpContext> | undefined;
  private closing = false;
  private closeEmitted = false;
  private liveness: Liveness | undefined;
  private deadReason: string | undefined;
  private pipelineMinRttMs = DEFAULT_PIPELINE_MIN_RTT_MS;
  private openAheadMinRttMs = DEFAULT_OPEN_AHEAD_MIN_RTT_MS;
  private deadlineBounds = DEFAULT_RTT_DEADLINE;

  constructor(host: HostConfig) {
    super();
    this.host = host;
  }

  /** Operations currently borrowing the connection's SFTP session. */
  get leases(): number {
    return this.leaseCount;
  }

  get lastUsed(): number {
    return this.lastUsedAt;
  }

  /** An operation borrows the connection: it counts as busy (never idle) until unlease(). */
  lease(): void {
    this.leaseCount++;
    this.lastUsedAt = performance.now();
  }

  unlease(): void {
    this.leaseCount--;
    this.lastUsedAt = performance.now();
  }

  get hasSftp(): boolean {
    return this.sftpContext !== undefined;
  }

  /** Open exec channels (the SFTP session's slot and retired SFTP sessions excluded). */
  get execChannels(): number {
    return this.channels - (this.sftpContext ? 1 : 0) - this.retiredSftp;
  }

  /** Idle: ready, no operation borrowing it and no command running on it. */
  get isIdle(): boolean {
    return this.state === "ready" && this.leases === 0 && this.execChannels === 0;
  }

  /**
   * Dials the host through its route (src/ssh/dial.ts: ProxyCommand, ProxyJump, host keys,
   * authentication, one deadline).
   */
  async connect(deps: ConnectionDeps): Promise<void> {
    let route: Route;
    try {
      route = await dial(this.host, deps);
    } catch (e) {
      this.state = "closed";
      throw e;
    }
    this.route = route;
    this.client = route.client;
    if (this.closing) {
      // close() was called while connecting: honor it now.
      this.destroyAll();
      this.state = "closed";
      throw new ScoutError("aborted", `Connection to ${this.host.alias} was closed while connecting`);
    }
    this.state = "ready";
    route.client.once("close", () => this.onClosed());
    this.startLiveness(deps);
  }

  // ---- after connect: round trips, keepalives, the pipelining choice ----------------------------

  /**
   * Keepalive probes with RTT-derived deadlines (see liveness.ts); the first one goes now, so the
   * RTT is known by the time the first request needs the pipelining choice. The interval and count
   * are the host's ServerAliveInterval/CountMax, else SCOUT_KEEPALIVE_INTERVAL and 3; an interval
   * of 0 turns them off (as it turns off ssh2's own keepalive, which dial.ts configures the same).
   */
  private startLiveness(deps: ConnectionDeps): void {
    this.pipelineMinRttMs = deps.pipelineMinRttMs ?? DEFAULT_PIPELINE_MIN_RTT_MS;
    this.openAheadMinRttMs = deps.openAheadMinRttMs ?? DEFAULT_OPEN_AHEAD_MIN_RTT_MS;
    this.deadlineBounds = deps.rttDeadline ?? DEFAULT_RTT_DEADLINE;
    const intervalMs =
      this.host.serverAliveIntervalSec !== undefined
        ? this.host.serverAliveIntervalSec * 1000
        : deps.keepaliveIntervalMs;
    const ping = this.client && intervalMs > 0 ? sshPinger(this.client) : undefined;
    if (!ping) return;
    this.liveness = new Liveness({
      ping,
      rtt: this.rtt,
      intervalMs,
      bounds: this.deadlineBounds,
      countMax: Math.max(1, this.host.serverAliveCountMax ?? KEEPALIVE_COUNT_MAX),
      onDead: (why) => {
        this.deadReason = why;
        // The socket goes at once: ssh2 fails what is pending and 'close' runs onClosed().
        this.client?.destroy();
      },
    });
    this.liveness.start();
  }

  /**
   * Whether one read may pipeline its SFTP requests (stat with open, a read handle's CLOSE with
   * the next request). Not when the connection's lowest RTT is below pipelineMinRttMs: a round
   * trip costs less there than the risk of the server owing two small replies at once (an SSH
   * server that leaves Nagle on then holds the second until our delayed ACK, ~40 ms). Unknown RTT:
   * pipeline (round trips are what it saves).
   */
  get pipelined(): boolean {
    // The lowest round trip seen is the path's floor: SRTT also moves with server and client load,
    // which must not turn a loopback connection into a "WAN" one.
    const floor = this.rtt.snapshot().minMs;
    return floor === undefined || floor >= this.pipelineMinRttMs;
  }

  /**
   * Whether a read of a path the session has not seen may send its open with the stat, before it
   * knows the path is a regular file (read.ts recovers when it is not). Only where a round trip is
   * worth it: the lowest RTT measured is at least openAheadMinRttMs. Unknown RTT: no.
   */
  get openAhead(): boolean {
    const floor = this.rtt.snapshot().minMs;
    return this.pipelined && floor !== undefined && floor >= this.openAheadMinRttMs;
  }

  /** How long a reply may take before the connection is probed: PROBE_RTOS RTOs, clamped. */
  replyDeadlineMs(): number {
    return rttDeadline(this.rtt.rtoMs, PROBE_RTOS, this.deadlineBounds, this.deadlineBounds.maxMs);
  }

  rttInfo(): ConnectionRtt {
    return {
      ...this.rtt.snapshot(),
      pipelined: this.pipelined,
      openAhead: this.openAhead,
      deadlineMs: this.replyDeadlineMs(),
    };
  }

  /**
   * Starts a watch on a request's reply: if it is not back within replyDeadlineMs(), the
   * connection is probed at once (a dead host is then found in a few deadlines, not at the next
   * keepalive). Returns the function that ends the watch.
   */
  watchReply(): () => void {
    const liveness = this.liveness;
    if (!liveness) return () => {};
    const timer = setTimeout(() => liveness.probeNow(), this.replyDeadlineMs());
    timer.unref();
    return () => clearTimeout(timer);
  }

  /** The connection's single SFTP session, opened on first use and reused by every caller. */
  sftp(): Promise<SftpContext> {
    if (this.sftpContext) return this.sftpContext;
    const client = this.requireClient();
    this.channels++;
    // The slot is freed once, when the channel is really gone (or never opened).
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.channels--;
      this.emit("slotFreed");
    };
    const forget = () => {
      if (this.sftpContext === opening) this.sftpContext = undefined;
    };
    let channel: SFTPWrapper | undefined;
    const opening: Promise<SftpContext> = this.openChannel<SFTPWrapper>((cb) => client.sftp(cb))
      .then(
        (sftp) =>
          new Promise<SftpContext>((resolve, reject) => {
            channel = sftp;
            let retired = false;
            sftp.once("close", () => {
              forget();
              if (retired) this.retiredSftp--;
              retired = false;
              release();
            });
            const retire = () => {
              if (retired || released) return;
              retired = true;
              this.retiredSftp++;
              forget();
              try {
                sftp.end();
              } catch {
                /* already closing */
              }
              // The server may never confirm the close (its SFTP process can be stuck in a FIFO's
              // open, and sshd waits for it): fail what is pending now, so that readers are retried
              // on a fresh session instead of waiting forever. (push(null) is how ssh2 itself ends
              // an SFTP stream when its channel closes.)
              (sftp as SFTPWrapper & { push(chunk: null): void }).push(null);
            };
            const sent = performance.now();
            sftp.realpath(".", (err, home) => {
              if (err) return reject(err);
              // The session's first request, alone on it: a clean round-trip sample.
              this.rtt.sample(performance.now() - sent);
              // Live getters: the RTT estimate moves.
              const pipelined = () => this.pipelined;
              const openAhead = () => this.openAhead;
              resolve({
                sftp,
                home,
                retire,
                get pipelined() {
                  return pipelined();
                },
                get openAhead() {
                  return openAhead();
                },
                replyDeadlineMs: () => this.replyDeadlineMs(),
                sample: (ms) => this.rtt.sample(ms),
                watchReply: () => this.watchReply(),
              });
            });
          }),
      )
      .catch((e: unknown) => {
        forget();
        if (channel) channel.end();
        else release();
        throw new ScoutError("channel-failed", `Cannot open SFTP on ${this.host.alias}: ${describe(e)}`, {
          hint: "Check that the server enables the sftp subsystem",
          cause: e,
        });
      });
    this.sftpContext = opening;
    return opening;
  }

  /** Opens an exec channel; the slot is released when the channel closes. */
  exec(command: string): Promise<ExecChannel> {
    const client = this.requireClient();
    this.channels++;
    this.lastUsedAt = performance.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.channels--;
      this.lastUsedAt = performance.now();
      this.emit("slotFreed");
    };
    return this.openChannel<ClientChannel>((cb) => client.exec(command, cb)).then(
      (channel) => {
        const exec = new ExecChannel(channel);
        this.openExec.add(exec);
        channel.once("close", () => {
          this.openExec.delete(exec);
          release();
        });
        return exec;
      },
      (err: unknown) => {
        release();
        throw new ScoutError(
          "channel-failed",
          `Cannot start a command on ${this.host.alias}: ${describe(err)}`,
          {
            cause: err,
          },
        );
      },
    );
  }

  /**
   * sshd answers "open failed" while it still counts sessions we have already closed (it frees
   * them a moment later), so a refused open is retried briefly instead of failing the request.
   */
  private async openChannel<T>(open: (cb: (err: Error | undefined, value: T) => void) => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<T>((resolve, reject) => open((err, v) => (err ? reject(err) : resolve(v))));
      } catch (e) {
        const refused = e instanceof Error && /open failed/i.test(e.message);
        if (!refused || attempt >= 7 || this.state !== "ready") throw e;
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt));
      }
    }
  }

  /**
   * Kills the process groups of the commands still running on this connection, over this
   * connection (on shutdown: sshd does not signal a command when its session closes, so it would
   * run on). TERM, then KILL; best effort and bounded by `timeoutMs`.
   */
  async killCommands(timeoutMs = 3000): Promise<void> {
    // A command that has just started may not have reported its process group yet (it is the
    // first thing its wrapper prints): give those a moment.
    for (let waited = 0; waited < 1000; waited += 50) {
      if (![...this.openExec].some((ch) => ch.processGroupPending)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = [...this.openExec].filter((ch) => ch.processGroup !== undefined);
    if (running.length === 0 || this.state !== "ready" || !this.client) return;
    const why = new ScoutError("aborted", "Scout is shutting down");
    for (const ch of running) ch.markLost(why);
    const pgids = running.map((ch) => ch.processGroup as number);
    const client = this.client;
    // dash rejects `kill -SIG -- -PGID`; `kill -SIG -PGID` works in dash, bash, zsh and busybox.
    const k = (sig: string) =>
      pgids.map((p) => `{ kill -${sig} -${p} || kill -${sig} -- -${p}; } 2>/dev/null`).join("; ");
    const script = `${k("TERM")}; sleep 0.3; ${k("KILL")}; true`;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        // Straight on the client: the channel accounting may be full, and sshd's MaxSessions has
        // room above ours.
        client.exec(script, (err, ch) => {
          if (err) return resolve();
          ch.on("data", () => {});
          ch.stderr.on("data", () => {});
          ch.once("close", () => resolve());
          ch.end();
        });
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Closes the connection and its jump chain. Idempotent. The connection stops serving at once;
   * 'close' (which frees its pool slot) fires when the socket is really gone, so the pool cap also
   * holds at the TCP level.
   */
  close(): void {
    this.closing = true;
    this.liveness?.stop();
    if (this.state !== "ready") return; // connecting: connect() finishes the job; closed: done
    this.state = "closed";
    this.destroyAll();
    // A peer that never answers our disconnect must not hold the slot forever.
    setTimeout(() => {
      this.route?.destroy();
      this.onClosed();
    }, 1000).unref();
  }

  private requireClient(): Client {
    if (this.state !== "ready" || !this.client) {
      throw new ScoutError("connection-lost", `Connection to ${this.host.alias} is closed`);
    }
    return this.client;
  }

  private destroyAll(): void {
    this.route?.end();
  }

  private onClosed(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.liveness?.stop();
    if (!this.closing) {
      this.closeReason = this.deadReason
        ? new ScoutError(
            "connection-lost",
            `Connection to ${this.host.alias} stopped answering: ${this.deadReason}`,
            {
              hint: "Check that the host is up and reachable; Scout reconnects on the next request",
            },
          )
        : new ScoutError("connection-lost", `Connection to ${this.host.alias} was lost`);
    }
    this.state = "closed";
    // ssh2 emits the client's 'close' before it ends the channels: mark them first, so that a
    // command's result says its connection was lost rather than showing no exit status.
    const why = this.closeReason ?? new ScoutError("aborted", "Scout is shutting down");
    for (const ch of this.openExec) ch.markLost(why);
    this.destroyAll();
    this.sftpContext = undefined;
    this.emit("close", this.closeReason);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
