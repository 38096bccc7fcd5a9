/**
 * What the demo's lab fleet needs from the machine: OpenSSH's sshd (run by absolute path) and
 * ssh-keygen. When they are missing, say how to install them, or install them with apt-get when
 * asked to (`demo --install`, as root).
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

export function installAdvice(env: NodeJS.ProcessEnv = process.env): string {
  const root = process.getuid?.() === 0;
  const sudo = root ? "" : "sudo ";
  const lines = [
    "The demo runs real OpenSSH servers on 127.0.0.1, so it needs sshd and ssh-keygen. Install them:",
  ];
  if (onPath("apt-get", env)) {
    lines.push(`  ${sudo}apt-get install -y openssh-server`);
    lines.push(
      root
        ? "  or let the demo do it: scout-mcp demo --install"
        : "  or run the demo as root with --install to let it do that",
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

/** apt-get install openssh-server (root only), without letting the package start its own sshd. */
export async function installWithApt(log: Out): Promise<void> {
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
  try {
    log.write("Installing openssh-server with apt-get…\n");
    if ((await runInherit("apt-get", ["update"], log)) !== 0) throw new Error("apt-get update failed");
    const code = await runInherit(
      "apt-get",
      ["install", "-y", "--no-install-recommends", "openssh-server", "openssh-client"],
      log,
    );
    if (code !== 0) throw new Error(`apt-get install openssh-server failed (exit ${code})`);
  } finally {
    if (ownPolicy) await rm(policy, { force: true });
  }
}
