/**
 * SFTP status codes → ScoutErrors that say what happened, and the promise wrappers over ssh2's
 * callback-style SFTP calls that every operation uses (so every failure goes through the mapping).
 */
import type { SFTPWrapper, Stats } from "ssh2";
import { ScoutError, abortError } from "../errors.js";

/** SSH_FX_* status codes (draft-ietf-secsh-filexfer-02); ssh2 puts them on `err.code`. */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Whether `e` (raw or mapped) means "no such file". */
export function isNotFound(e: unknown): boolean {
  return e instanceof ScoutError ? e.code === "not-found" : statusOf(e) === SFTP_STATUS.NO_SUCH_FILE;
}

/**
 * Maps an ssh2 SFTP error for `path` to a ScoutError. `action` completes "cannot … path"
 * ("read", "list", "open", …). ScoutErrors pass through unchanged.
 */
export function sftpError(e: unknown, path: string, action: string): ScoutError {
  if (e instanceof ScoutError) return e;
  const message = e instanceof Error ? e.message : String(e);
  switch (statusOf(e)) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return new ScoutError("not-found", `Path not found: ${path}`, {
        hint: "Check the path; list the parent directory to see what is there",
        cause: e,
      });
    case SFTP_STATUS.PERMISSION_DENIED:
      return new ScoutError("permission-denied", `Permission denied: cannot ${action} ${path}`, {
        hint: "The remote user lacks access; use a readable path or another host user",
        cause: e,
      });
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return new ScoutError("connection-lost", `Connection lost while trying to ${action} ${path}`, {
        hint: "Retry; the connection will be re-established",
        cause: e,
      });
    case SFTP_STATUS.OP_UNSUPPORTED:
      return new ScoutError("io", `Cannot ${action} ${path}: the SFTP server does not support it`, {
        cause: e,
      });
    case SFTP_STATUS.FAILURE:
    case SFTP_STATUS.BAD_MESSAGE:
      return new ScoutError("io", `Cannot ${action} ${path}: ${message}`, { cause: e });
  }
  // ssh2 fails pending requests with plain Errors when the channel or connection goes away.
  if (/no response from server|not connected|channel (?:closed|not open)|write after end/i.test(message)) {
    return new ScoutError("connection-lost", `Connection lost while trying to ${action} ${path}`, {
      hint: "Retry; the connection will be re-established",
      cause: e,
    });
  }
  return new ScoutError("io", `Cannot ${action} ${path}: ${message}`, { cause: e });
}

/** Throws the signal's reason as a ScoutError when it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/** Promise wrapper for one ssh2 SFTP call, with error mapping. */
export function sftpCall<T>(
  path: string,
  action: string,
  fn: (cb: (err: Error | null | undefined, value: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, value) => (err ? reject(sftpError(err, path, action)) : resolve(value)));
    } catch (e) {
      // ssh2 throws synchronously when the SFTP channel is already closed.
      reject(sftpError(e, path, action));
    }
  });
}

/** `shown` is the path as the user wrote it (e.g. `~/x`), for the error message. */
export const sftpStat = (sftp: SFTPWrapper, p: string, shown = p): Promise<Stats> => {
  flushCloses(sftp);
  return sftpCall<Stats>(shown, "stat", (cb) => sftp.stat(p, cb));
};

export const sftpOpen = (sftp: SFTPWrapper, p: string, flags: "r" | "w", mode?: number): Promise<Buffer> => {
  flushCloses(sftp);
  return sftpCall<Buffer>(p, flags === "r" ? "open" : "create", (cb) =>
    mode === undefined ? sftp.open(p, flags, cb) : sftp.open(p, flags, { mode }, cb),
  );
};

/** How long a read handle's CLOSE may wait for the session's next request to ride along with. */
const CLOSE_DELAY_MS = 20;
/** More pending CLOSEs than this go out at once. */
const MAX_PENDING_CLOSES = 32;
const pendingCloses = new WeakMap<SFTPWrapper, { handles: Buffer[]; timer: NodeJS.Timeout }>();

/**
 * Closes a handle that was only read from, a little later: its CLOSE leaves with the session's next
 * stat or open (one packet write and one sshd wake-up for both) or after CLOSE_DELAY_MS. Only for
 * read handles: closing a written file is what tells the server the upload is complete.
 */
export function closeSoon(sftp: SFTPWrapper, handle: Buffer): void {
  let pending = pendingCloses.get(sftp);
  if (!pending) {
    const timer = setTimeout(() => flushCloses(sftp), CLOSE_DELAY_MS);
    timer.unref();
    pending = { handles: [], timer };
    pendingCloses.set(sftp, pending);
  }
  pending.handles.push(handle);
  if (pending.handles.length >= MAX_PENDING_CLOSES) flushCloses(sftp);
}

/** CLOSEs sent by closeNow() whose replies are not back yet, per session. */
const closesInFlight = new WeakMap<SFTPWrapper, Set<Promise<void>>>();

/**
 * Closes a read handle now, without waiting for the reply; closesSettled() tells when the server
 * has answered. For low-RTT sessions that send one request at a time: the next request waits for
 * this reply (a fraction of a millisecond) rather than riding with it.
 */
export function closeNow(sftp: SFTPWrapper, handle: Buffer): void {
  let set = closesInFlight.get(sftp);
  if (!set) {
    set = new Set();
    closesInFlight.set(sftp, set);
  }
  const inFlight = set;
  const done = new Promise<void>((resolve) => {
    try {
      sftp.close(handle, () => resolve());
    } catch {
      resolve(); // channel already gone: the server dropped the handle with it
    }
  });
  inFlight.add(done);
  void done.then(() => inFlight.delete(done));
}

/** Resolves when every CLOSE sent by closeNow() on this session is answered; undefined if none is out. */
export function closesSettled(sftp: SFTPWrapper): Promise<void> | undefined {
  const set = closesInFlight.get(sftp);
  if (!set || set.size === 0) return undefined;
  return Promise.all(set).then(() => {});
}

/**
 * Throws connection-lost (which readers retry on a fresh connection) when the session has ended:
 * ssh2 answers the requests pending when a channel closes, but one sent afterwards is buffered
 * and never answered. For callers that waited before sending (closesSettled).
 */
export function assertSessionOpen(sftp: SFTPWrapper, path: string): void {
  // ssh2's SFTP stream turns unreadable when its channel ends (push(null)); not in its typings.
  if ((sftp as SFTPWrapper & { readable?: boolean }).readable === false) {
    throw new ScoutError("connection-lost", `Connection lost while trying to read ${path}`, {
      hint: "Retry; the connection will be re-established",
    });
  }
}

/** Sends the session's pending CLOSEs now. */
export function flushCloses(sftp: SFTPWrapper): void {
  const pending = pendingCloses.get(sftp);
  if (!pending) return;
  pendingCloses.delete(sftp);
  clearTimeout(pending.timer);
  for (const handle of pending.handles) closeQuietly(sftp, handle);
}

/** Closes a handle without waiting for the reply (saves a round trip); errors are irrelevant. */
export function closeQuietly(sftp: SFTPWrapper, handle: Buffer): void {
  try {
    sftp.close(handle, () => {});
  } catch {
    // channel already gone: the server dropped the handle with it
  }
}

/**
 * Removes a leftover (a temporary file after a failed transfer) without waiting; a failure, or a
 * channel already gone, must not hide the error that made it a leftover.
 */
export function unlinkQuietly(sftp: SFTPWrapper, p: string): void {
  try {
    sftp.unlink(p, () => {});
  } catch {
    // channel already gone: nothing more can be done over it
  }
}

/**
 * One READ request: resolves with the bytes read into `buf` at `off` (0 at end of file). A read
 * may return fewer bytes than asked; callers continue from where it stopped.
 */
export const sftpRead = (
  sftp: SFTPWrapper,
  handle: Buffer,
  buf: Buffer,
  off: number,
  len: number,
  pos: number,
  p: string,
): Promise<number> =>
  sftpCall<number>(p, "read", (cb) => sftp.read(handle, buf, off, len, pos, (err, n) => cb(err, n)));

export const sftpUnlink = (sftp: SFTPWrapper, p: string): Promise<void> =>
  sftpCall<void>(p, "remove", (cb) => sftp.unlink(p, (err) => cb(err, undefined)));

/** Renames over an existing target atomically where the server has posix-rename@openssh.com. */
export async function sftpReplace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  let posixRename = true;
  try {
    await sftpCall<void>(to, "rename onto", (cb) =>
      sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)),
    );
    return;
  } catch (e) {
    // ssh2 throws "Server does not support this extended request" synchronously (mapped to io).
    if (!(e instanceof ScoutError && e.code === "io" && /does not support/i.test(e.message))) throw e;
    posixRename = false;
  }
  if (!posixRename) {
    // Plain SFTP rename refuses to replace: remove the target first (not atomic, but the best v3 allows).
    await sftpUnlink(sftp, to).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    await sftpCall<void>(to, "rename onto", (cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
  }
}
