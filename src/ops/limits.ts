import type { Settings } from "../config/settings.js";

/** The caps every operation honors. */
export interface Limits {
  /** Bytes of file content returned before truncation. */
  maxFileSize: number;
  /** Bytes of listing/tree/find output, and of command stdout and stderr each. */
  maxOutputSize: number;
  /** Milliseconds a command may run. */
  commandTimeoutMs: number;
}

export function limitsFrom(s: Settings): Limits {
  return { maxFileSize: s.maxFileSize, maxOutputSize: s.maxOutputSize, commandTimeoutMs: s.commandTimeoutMs };
}
