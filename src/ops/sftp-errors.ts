/** Maps ssh2 SFTP status errors to ScoutErrors that say what happened. */
import { ScoutError } from "../errors.js";

const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

export function sftpError(e: unknown, path: string, action: string): ScoutError {
  if (e instanceof ScoutError) return e;
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === NO_SUCH_FILE || /no such file/i.test(message)) {
    return new ScoutError("not-found", `Path not found: ${path}`, { cause: e });
  }
  if (code === PERMISSION_DENIED || /permission denied/i.test(message)) {
    return new ScoutError("permission-denied", `Permission denied: cannot ${action} ${path}`, {
      hint: "The remote user lacks access; use a readable path or another host user",
      cause: e,
    });
  }
  return new ScoutError("io", `Cannot ${action} ${path}: ${message}`, { cause: e });
}

/** Promise wrapper for ssh2's callback-style SFTP calls, with error mapping. */
export function sftpCall<T>(
  path: string,
  action: string,
  fn: (cb: (err: Error | null | undefined, v: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, v) => (err ? reject(sftpError(err, path, action)) : resolve(v)));
  });
}
