/**
 * A connection's smoothed round-trip time, RFC 6298 style (SRTT/RTTVAR, α = 1/8, β = 1/4), fed
 * from its own traffic: keepalive replies and lone SFTP requests. Deadlines derived from it stay
 * within configured bounds, so a 300 ms WAN host is not failed by a LAN-sized deadline and a dead
 * LAN host is noticed within seconds.
 */

/** RFC 6298's clock granularity G: RTO = SRTT + max(G, 4·RTTVAR). Our clock is sub-millisecond. */
const GRANULARITY_MS = 1;

export interface RttSnapshot {
  /** Smoothed RTT in ms (undefined before the first sample). */
  srttMs: number | undefined;
  rttvarMs: number | undefined;
  /** RFC 6298 retransmission timeout, unclamped: SRTT + max(G, 4·RTTVAR). */
  rtoMs: number | undefined;
  /** The lowest sample seen: the path's floor, without server or queueing time. */
  minMs: number | undefined;
  samples: number;
}

export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;
  private min: number | undefined;
  private count = 0;

  /** Adds one measured round trip (ms). Non-finite or negative samples are ignored. */
  sample(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.count++;
    this.min = this.min === undefined ? ms : Math.min(this.min, ms);
    if (this.srtt === undefined) {
      // RFC 6298 2.2: the first measurement.
      this.srtt = ms;
      this.rttvar = ms / 2;
      return;
    }
    // RFC 6298 2.3: RTTVAR first, with the old SRTT.
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
    this.srtt = 0.875 * this.srtt + 0.125 * ms;
  }

  get srttMs(): number | undefined {
    return this.srtt;
  }

  get samples(): number {
    return this.count;
  }

  get rtoMs(): number | undefined {
    return this.srtt === undefined ? undefined : this.srtt + Math.max(GRANULARITY_MS, 4 * this.rttvar);
  }

  snapshot(): RttSnapshot {
    return {
      srttMs: this.srtt,
      rttvarMs: this.srtt === undefined ? undefined : this.rttvar,
      rtoMs: this.rtoMs,
      minMs: this.min,
      samples: this.count,
    };
  }
}

export interface DeadlineBounds {
  minMs: number;
  maxMs: number;
}

/**
 * `rounds` RTOs of this connection, clamped to [minMs, maxMs]; `fallbackMs` (also clamped) when
 * nothing was measured yet. A request that needs about one round trip gets rounds ≈ 4: a reply
 * later than that is no longer jitter.
 */
export function rttDeadline(
  rtoMs: number | undefined,
  rounds: number,
  bounds: DeadlineBounds,
  fallbackMs: number,
): number {
  const raw = rtoMs === undefined ? fallbackMs : rounds * rtoMs;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, raw));
}

/** A handshake is about 10 round trips (TCP, version, kex, auth, channel) plus server work. */
export const CONNECT_RTOS = 20;

/**
 * The connect deadline for a host whose RTO is known from an earlier connection: the configured
 * one, stretched to CONNECT_RTOS RTOs (at most maxMs) when that is longer, so a WAN host known to
 * be slow is not failed by a LAN-sized SCOUT_CONNECT_TIMEOUT. Never shortened: a first contact and
 * a busy sshd look alike from here.
 */
export function connectDeadline(configuredMs: number, rtoMs: number | undefined, maxMs: number): number {
  if (rtoMs === undefined) return configuredMs;
  return Math.max(configuredMs, Math.min(CONNECT_RTOS * rtoMs, maxMs));
}
