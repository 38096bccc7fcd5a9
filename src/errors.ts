/**
 * One error type for everything Scout reports to a user. `code` lets the MCP layer, metrics and
 * audit classify failures without parsing text; `message` says what happened and `hint` what to do.
 */
export type ScoutErrorCode =
  // configuration and input
  | "invalid-input"
  | "unknown-host"
  | "config"
  // connecting
  | "dns"
  | "connection-refused"
  | "connect-timeout"
  | "auth-failed"
  | "key-unusable"
  | "host-key-unknown"
  | "host-key-changed"
  | "connection-lost"
  | "host-down"
  | "pool-timeout"
  // operations
  | "not-found"
  | "permission-denied"
  | "not-a-file"
  | "not-a-directory"
  /** A binary file where text was asked for (a resource read). */
  | "binary"
  | "channel-failed"
  | "io"
  // control
  | "aborted"
  | "timeout"
  | "refused";

export class ScoutError extends Error {
  readonly code: ScoutErrorCode;
  readonly hint: string | undefined;

  constructor(code: ScoutErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ScoutError";
    this.code = code;
    this.hint = options.hint;
  }

  /** "message. hint" — the text users see after "Error: ". */
  get userText(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

export function isScoutError(e: unknown, code?: ScoutErrorCode): e is ScoutError {
  return e instanceof ScoutError && (code === undefined || e.code === code);
}

/** The reason an AbortSignal fired, as a ScoutError. */
export function abortError(signal: AbortSignal | undefined, what: string): ScoutError {
  const reason: unknown = signal?.reason;
  if (reason instanceof ScoutError) return reason;
  return new ScoutError("aborted", `${what} was cancelled`, { cause: reason });
}

export function errorMessage(e: unknown): string {
  if (e instanceof ScoutError) return e.userText;
  if (e instanceof Error) return e.message;
  return String(e);
}
