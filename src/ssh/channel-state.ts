/**
 * One exec channel as the engine sees it beyond ssh2's view: the remote process group its command
 * runs in (reported by the operation that reads the command's wrapper output, so that a shutdown
 * can kill it) and why the channel ended without a result (its connection died, or was closed on
 * shutdown, while it ran). The connection that opened the channel owns this object; operations
 * talk to it only through its methods.
 */
import type { ClientChannel } from "ssh2";
import type { ScoutError } from "../errors.js";

export class ExecChannel {
  private pgid: number | undefined;
  private announced = false;
  private lost: ScoutError | undefined;

  constructor(readonly channel: ClientChannel) {}

  /** Says that the command will report its process group (it runs in the wrapper). */
  expectProcessGroup(): void {
    this.announced = true;
  }

  /** Records the remote process group of the command; nonsense values are ignored. */
  setProcessGroup(pgid: number): void {
    if (Number.isSafeInteger(pgid) && pgid > 1) this.pgid = pgid;
  }

  get processGroup(): number | undefined {
    return this.pgid;
  }

  /** True when the command will report a process group it has not reported yet. */
  get processGroupPending(): boolean {
    return this.announced && this.pgid === undefined;
  }

  /** Called by the owning connection when it goes away under the channel (the first reason wins). */
  markLost(reason: ScoutError): void {
    this.lost ??= reason;
  }

  /** The reason the channel's connection went away while the channel was open, if it did. */
  get lostReason(): ScoutError | undefined {
    return this.lost;
  }
}
