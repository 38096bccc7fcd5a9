/**
 * `npm test` on a fresh machine: the lab needs sshd, ssh-keygen and ps. As root on Debian/Ubuntu
 * they are installed with apt-get (one line says so), otherwise the run stops at once with the one
 * command to run, instead of every lab test failing on its own.
 */
import { mkdir } from "node:fs/promises";
import { ensureLabTools } from "../src/cli/sshd-setup.js";

export default async function setup(): Promise<void> {
  await ensureLabTools(process.stderr);
  // sshd's privilege-separation directory (tmpfs on most systems, so it may be gone after boot).
  if (process.getuid?.() === 0) await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
}
