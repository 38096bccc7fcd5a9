/**
 * Keepalive probes on one connection, with deadlines from its measured RTT. A probe is an SSH
 * global request (keepalive@openssh.com, which every OpenSSH answers); its reply time is an RTT
 * sample. While the host answers, probes go every `intervalMs`. A reply later than the deadline
 * (4 RTOs, clamped to the configured bounds) makes the next probe go at once; `countMax` late
 * probes in a row and the connection is declared dead. So a LAN host that vanishes is noticed
 * within about countMax × the lower bound, and a 300 ms WAN host is given deadlines to match.
 */
import type { Client } from "ssh2";
import { rttDeadline, type DeadlineBounds, type RttEstimator } from "./rtt.js";

/** Deadline of one probe: this many RTOs (a reply needs one RTT; the rest is margin for jitter). */
export const PROBE_RTOS = 4;

export interface LivenessOptions {
  /** Sends one probe; `onReply` runs when the peer answers it (success or failure alike). */
  ping(onReply: () => void): void;
  rtt: RttEstimator;
  /** Between probes while the peer answers; 0: probe only on demand (probeNow). */
  intervalMs: number;
  bounds: DeadlineBounds;
  countMax: number;
  onDead(why: string): void;
}

export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private outstanding = 0;
  private late = 0;
  private stopped = false;
  private lastDeadlineMs = 0;
  /** performance.now() of the latest probe and of its deadline. */
  private lastSentAt = 0;
  private dueAt = Infinity;

  constructor(private readonly o: LivenessOptions) {}

  /** First probe now (it seeds the RTT estimate), then on the interval. */
  start(): void {
    this.probe();
  }

  /** The deadline a probe sent now would get. */
  deadlineMs(): number {
    return rttDeadline(this.o.rtt.rtoMs, PROBE_RTOS, this.o.bounds, this.o.bounds.maxMs);
  }

  /**
   * Probes now (e.g. an operation's reply is overdue). With a probe already out, its deadline is
   * tightened to what the RTT measured since it was sent allows (the first probe of a connection
   * goes out before any RTT is known, with the upper bound).
   */
  probeNow(): void {
    if (this.stopped) return;
    if (this.outstanding === 0) {
      this.probe();
      return;
    }
    const deadline = this.deadlineMs();
    const due = this.lastSentAt + deadline;
    if (due < this.dueAt) {
      this.lastDeadlineMs = deadline;
      this.arm(due);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
  }

  private probe(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const sent = performance.now();
    this.outstanding++;
    this.lastSentAt = sent;
    this.lastDeadlineMs = this.deadlineMs();
    try {
      this.o.ping(() => this.onReply(sent));
    } catch {
      // The socket is already gone: the connection's own close handling takes over.
      this.outstanding--;
      return;
    }
    this.arm(sent + this.lastDeadlineMs);
  }

  private arm(dueAt: number): void {
    clearTimeout(this.deadlineTimer);
    this.dueAt = dueAt;
    this.deadlineTimer = setTimeout(() => this.onLate(), Math.max(0, dueAt - performance.now()));
    this.deadlineTimer.unref();
  }

  private onReply(sent: number): void {
    this.outstanding--;
    if (this.stopped) return;
    this.o.rtt.sample(performance.now() - sent);
    this.late = 0;
    if (this.outstanding > 0) return; // a later probe's deadline still runs
    clearTimeout(this.deadlineTimer);
    this.dueAt = Infinity;
    this.schedule();
  }

  private onLate(): void {
    if (this.stopped) return;
    this.late++;
    if (this.late >= this.o.countMax) {
      this.stop();
      this.o.onDead(
        `no keepalive reply within ${(this.lastDeadlineMs / 1000).toFixed(1)} s, ${this.late} times in a row`,
      );
      return;
    }
    this.probe();
  }

  private schedule(): void {
    if (this.o.intervalMs <= 0 || this.stopped) return;
    this.timer = setTimeout(() => this.probe(), this.o.intervalMs);
    this.timer.unref();
  }
}

/**
 * A probe sender over ssh2's own keepalive path: ssh2 has no public API for a global request with
 * a reply, and its built-in keepalive (client.js `sendKA`) does exactly this — queue a reply
 * callback, then `_protocol.ping()`. Undefined when those internals are missing (another ssh2
 * version): the connection then keeps ssh2's fixed keepalive only.
 */
export function sshPinger(client: Client): ((onReply: () => void) => void) | undefined {
  // Private ssh2 fields, checked at run time (see above).
  const c = client as unknown as {
    _protocol?: { ping?: () => void };
    _callbacks?: Array<(failed: unknown) => void>;
  };
  if (typeof c._protocol?.ping !== "function" || !Array.isArray(c._callbacks)) return undefined;
  return (onReply) => {
    const callbacks = c._callbacks;
    const proto = c._protocol;
    if (!callbacks || !proto?.ping) throw new Error("connection closed");
    callbacks.push((failed) => {
      // ssh2 fails queued callbacks with an Error when the connection closes: not a reply.
      if (!(failed instanceof Error)) onReply();
    });
    proto.ping();
  };
}
