/**
 * The contract between the SSH engine and the operations above it. Operations never see pools or
 * connections, only a HostAccess: "give me this host's SFTP session" and "open an exec channel".
 */
import type { SFTPWrapper } from "ssh2";
import type { HostConfig } from "../config/host.js";
import type { ExecChannel } from "./channel-state.js";

export type { ExecChannel };

export interface SftpContext {
  sftp: SFTPWrapper;
  /** The remote login directory (SFTP realpath of "."), resolved once per connection. */
  home: string;
  /**
   * Gives this SFTP session up at once: later requests get a fresh session on the same connection,
   * and requests still pending on this one fail (readers are retried). For a session the server
   * can no longer serve, e.g. one blocked opening a FIFO.
   */
  retire(): void;
  /**
   * Whether one operation may pipeline its requests (send the next before the reply to the
   * previous): false on low-RTT connections (see SshConnection.pipelined).
   */
  readonly pipelined: boolean;
  /**
   * Whether a read of a path the session has not seen may send its open with the stat (high-RTT
   * connections only; see SshConnection.openAhead).
   */
  readonly openAhead: boolean;
  /** How long a reply may take on this connection before it is overdue (ms, RTT-derived). */
  replyDeadlineMs(): number;
  /** Adds a round trip measured on a request that was alone on the session (ms). */
  sample(ms: number): void;
  /** Watches for an overdue reply (the connection is probed when it is); returns the stop function. */
  watchReply(): () => void;
}

export interface SftpOptions {
  signal?: AbortSignal;
  /**
   * True (the default) when `fn` only reads: if the connection turns out to be dead, it is replaced
   * and `fn` runs once more. Writers pass false so that nothing is done twice.
   */
  idempotent?: boolean;
}

export interface ExecOptions {
  signal?: AbortSignal;
}

export interface HostAccess {
  readonly config: HostConfig;
  /**
   * Runs `fn` with the host's shared SFTP session. The connection counts as busy (never evicted or
   * reaped) until the returned promise settles. SFTP requests from concurrent callers pipeline.
   */
  withSftp<T>(fn: (ctx: SftpContext) => Promise<T>, options?: SftpOptions): Promise<T>;
  /**
   * Opens an exec channel running `command` through the remote login shell. The channel holds one
   * of the connection's channel slots until it closes. Never retried: a command may have run.
   * The ExecChannel carries the ssh2 channel plus what the engine must know about the command
   * (its process group, for killing it on shutdown; why it was lost).
   */
  exec(command: string, options?: ExecOptions): Promise<ExecChannel>;
}
