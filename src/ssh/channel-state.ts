/**
 * What the engine knows about an exec channel beyond ssh2's view of it: the remote process group
 * its command runs in (told by the exec operation, so that a shutdown can kill it) and why the
 * channel ended without a result (its connection died, or was closed on shutdown, while it ran).
 */
import type { ClientChannel } from "ssh2";
import type { ScoutError } from "../errors.js";

const lost = new WeakMap<ClientChannel, ScoutError>();
const groups = new WeakMap<ClientChannel, number>();

export function markChannelLost(channel: ClientChannel, reason: ScoutError): void {
  if (!lost.has(channel)) lost.set(channel, reason);
}

/** The reason the channel's connection went away while the channel was open, if it did. */
export function channelLostReason(channel: ClientChannel): ScoutError | undefined {
  return lost.get(channel);
}

const announced = new WeakSet<ClientChannel>();

/** Says that the command on `channel` will report its process group (it runs in the wrapper). */
export function expectProcessGroup(channel: ClientChannel): void {
  announced.add(channel);
}

/** True when the channel's command will report a process group it has not reported yet. */
export function processGroupPending(channel: ClientChannel): boolean {
  return announced.has(channel) && !groups.has(channel);
}

/** Records the remote process group of the command running on `channel`. */
export function setChannelProcessGroup(channel: ClientChannel, pgid: number): void {
  if (Number.isSafeInteger(pgid) && pgid > 1) groups.set(channel, pgid);
}

export function channelProcessGroup(channel: ClientChannel): number | undefined {
  return groups.get(channel);
}
