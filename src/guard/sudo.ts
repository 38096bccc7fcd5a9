/**
 * Where the password for a `sudo=true` call comes from: the host's entry in the policy file, else
 * SCOUT_SUDO_PASSWORD_FILE, else none (then sudo runs with -n and works only with NOPASSWD rules).
 * The file is read per call so that a rotated password takes effect without a restart. The
 * password only ever travels to the remote `sudo -S` over the channel's stdin; error messages name
 * the file, never its content.
 */
import { readFile } from "node:fs/promises";
import { ScoutError } from "../errors.js";
import type { SudoPassword } from "../mcp/mode.js";
import type { Policy } from "./policy.js";

export type { SudoPassword } from "../mcp/mode.js";

async function readPasswordFile(path: string, source: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ScoutError("config", `Cannot read the sudo password file of ${source} (${path}): ${code}`, {
      hint: "Ask the operator to fix the file or its permissions",
    });
  }
  // One trailing newline is the file's, not the password's.
  const password = text.replace(/\r?\n$/, "");
  if (password.includes("\n") || password.includes("\0")) {
    throw new ScoutError("config", `The sudo password file of ${source} (${path}) has more than one line`);
  }
  return password;
}

export async function sudoPasswordFor(
  host: string,
  policy: Policy,
  passwordFile: string | undefined,
): Promise<SudoPassword> {
  const entry = policy.sudoFor(host);
  if (entry) {
    const source = `SCOUT_POLICY_FILE rule '${entry.hostPattern}'`;
    if (entry.password !== undefined) return { password: entry.password, source };
    if (entry.passwordFile !== undefined) {
      return { password: await readPasswordFile(entry.passwordFile, source), source };
    }
  }
  if (passwordFile) {
    const source = "SCOUT_SUDO_PASSWORD_FILE";
    return { password: await readPasswordFile(passwordFile, source), source };
  }
  return { password: undefined, source: "none (sudo -n)" };
}
