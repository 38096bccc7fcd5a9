/**
 * What the demo's lab fleet (and `npm test`) needs from the machine: OpenSSH's sshd (run by
 * absolute path), ssh-keygen and ps. On a fresh Debian/Ubuntu machine, as root, whatever is
 * missing is installed with apt-get the way .ci/run does it (policy-rc.d keeps the package from
 * starting its own sshd), announced in one line; as another user (or without apt-get) the one
 * command to run is printed. SCOUT_LAB_INSTALL=0 turns the automatic install off.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Out } from "./term.js";

/** The places src/lab looks for sshd, in its order. */
export function sshdCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    env.SCOUT_SSHD,
    "/usr/sbin/sshd",
    "/usr/local/sbin/sshd",
    "/usr/bin/sshd",
    "/opt/homebrew/sbin/sshd",
    "/usr/local/bin/sshd",
  ].filter((p): p is string => !!p);
}

function onPath(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return undefined;
}

export interface Missing {
  sshd: boolean;
  sshKeygen: boolean;
}

export function missingTools(env: NodeJS.ProcessEnv = process.env): Missing {
  return {
    sshd: !sshdCandidates(env).some((p) => existsSync(p)),
    sshKeygen: !onPath("ssh-keygen", env),
  };
}

export function installAdvice(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  const root = uid === 0;
  const sudo = root ? "" : "sudo ";
  const lines = [
    "The demo runs real OpenSSH servers on 127.0.0.1, so it needs sshd and ssh-keygen. Install them:",
  ];
  if (onPath("apt-get", env)) {
    lines.push(`  ${sudo}apt-get install -y openssh-server`);
    lines.push(
      root
        ? "  (as root, the demo and npm test install it themselves unless SCOUT_LAB_INSTALL=0)"
        : "  (run as root, the demo and npm test install it themselves)",
    );
  } else if (onPath("dnf", env)) lines.push(`  ${sudo}dnf install -y openssh-server`);
  else if (onPath("apk", env)) lines.push(`  ${sudo}apk add openssh-server openssh-keygen`);
  else if (onPath("pacman", env)) lines.push(`  ${sudo}pacman -S --noconfirm openssh`);
  else if (onPath("brew", env) || process.platform === "darwin")
    lines.push("  macOS ships /usr/sbin/sshd; elsewhere: brew install openssh");
  else lines.push("  install OpenSSH's server package with your package manager");
  lines.push("Or point SCOUT_SSHD at an sshd binary (it must be an absolute path).");
  return lines.join("\n");
}

function runInherit(cmd: string, args: string[], log: Out): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    child.stdout.on("data", (d: Buffer) => log.write(d.toString()));
    child.stderr.on("data", (d: Buffer) => log.write(d.toString()));
    child.on("error", (e) => {
      log.write(`${cmd}: ${e.message}\n`);
      resolve(127);
    });
    child.on("close", (code) => resolve(code ?? 1));
  });
}

/** The Debian packages that provide what is missing, as .ci/run names them. */
export function missingPackages(env: NodeJS.ProcessEnv = process.env): string[] {
  const m = missingTools(env);
  return [
    ...(m.sshd ? ["openssh-server"] : []),
    ...(m.sshKeygen ? ["openssh-client"] : []),
    ...(onPath("ps", env) ? [] : ["procps"]),
  ];
}

/** Whether to install now (root, apt-get, not turned off), else the advice to print. */
export function installDecision(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): { install: string[] } | { advise: string } | undefined {
  const packages = missingPackages(env);
  if (packages.length === 0) return undefined;
  if (uid === 0 && onPath("apt-get", env) && env.SCOUT_LAB_INSTALL !== "0") return { install: packages };
  return { advise: installAdvice(env, uid) };
}

/**
 * apt-get install of `packages` (root only), without letting the package start its own sshd.
 * apt's chatter is kept and shown only when it fails.
 */
export async function installWithApt(
  log: Out,
  packages = ["openssh-server", "openssh-client"],
): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("--install needs root (it runs apt-get). Run: sudo apt-get install -y openssh-server");
  }
  if (!onPath("apt-get", process.env)) {
    throw new Error(`--install only knows apt-get, which this system lacks.\n${installAdvice()}`);
  }
  // Debian's policy-rc.d convention: exit 101 forbids maintainer scripts from starting services.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) await writeFile(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  let transcript = "";
  const keep: Out = { write: (text: string) => (transcript += text) };
  try {
    log.write(`Installing ${packages.join(" ")} with apt-get (missing; running as root)…\n`);
    if ((await runInherit("apt-get", ["update"], keep)) !== 0) {
      log.write(transcript);
      throw new Error("apt-get update failed");
    }
    const code = await runInherit("apt-get", ["install", "-y", "--no-install-recommends", ...packages], keep);
    if (code !== 0) {
      log.write(transcript);
      throw new Error(`apt-get install ${packages.join(" ")} failed (exit ${code})`);
    }
  } finally {
    if (ownPolicy) await rm(policy, { force: true });
  }
}

/**
 * Makes sure the lab can run: installs what is missing when installDecision() says so, else
 * throws an Error whose message is the advice (what is missing and the one command to run).
 */
export async function ensureLabTools(log: Out, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const decision = installDecision(env);
  if (decision === undefined) return;
  if ("install" in decision) {
    await installWithApt(log, decision.install);
    if (missingPackages(env).length === 0) return;
  }
  const m = missingTools(env);
  const what = [m.sshd && "sshd (OpenSSH server)", m.sshKeygen && "ssh-keygen"].filter(Boolean).join(" and ");
  throw new Error(`${what || "ps"} not found.\n${installAdvice(env)}`);
}
