/**
 * The files Scout reads as configuration, which no tool call may write (issue 11: the ssh config is
 * code, through ProxyCommand and Match exec): the ssh configs and whatever their Includes read or
 * would read, every known_hosts file, every identity file with its `.pub` and certificates, the
 * policy file, the audit log, and anything under ~/.ssh (authorized_keys, rc… are code too). Paths
 * are compared after resolving `..` and symlinks, of the target and of its directory.
 */
import { realpath } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { HostConfig } from "../config/host.js";
import { DEFAULT_GLOBAL_KNOWN_HOSTS } from "../config/known-hosts.js";
import type { HostRegistry } from "../config/registry.js";
import type { Settings } from "../config/settings.js";
import { ScoutError } from "../errors.js";

export interface ConfigSources {
  settings: Pick<Settings, "sshConfigPath" | "knownHostsPath" | "policyFile" | "auditLog">;
  registry: Pick<HostRegistry, "list" | "readsConfigFrom">;
}

/** The passwd entry's home (as ssh uses), not $HOME. */
function home(): string {
  try {
    return userInfo().homedir;
  } catch {
    return process.env.HOME ?? "/";
  }
}

async function real(path: string): Promise<string | undefined> {
  return realpath(path).catch(() => undefined);
}

/** The ways `path` may name a file: as written (resolved), through its real directory, and its real self. */
async function spellings(path: string): Promise<string[]> {
  const lexical = resolve(path);
  const dir = await real(dirname(lexical));
  const self = await real(lexical);
  return [...new Set([lexical, ...(dir ? [join(dir, basename(lexical))] : []), ...(self ? [self] : [])])];
}

function hostFiles(h: HostConfig): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of h.identityFiles) {
    out.push([f, `an identity file of ${h.alias}`]);
    out.push([`${f}.pub`, `an identity file of ${h.alias}`]);
    out.push([`${f}-cert.pub`, `a certificate of ${h.alias}`]);
  }
  for (const f of h.certificateFiles ?? []) out.push([f, `a certificate of ${h.alias}`]);
  for (const f of h.userKnownHostsFiles ?? []) out.push([f, "a known_hosts file"]);
  for (const f of h.globalKnownHostsFiles ?? []) out.push([f, "a known_hosts file"]);
  for (const j of h.proxyJump) out.push(...hostFiles(j));
  return out;
}

/** What `path` is to Scout's configuration, or undefined when writing it is harmless to it. */
export async function configRole(path: string, src: ConfigSources): Promise<string | undefined> {
  const names = await spellings(path);
  if (names.some((n) => src.registry.readsConfigFrom(n))) return "part of the ssh configuration";
  const s = src.settings;
  const named: Array<[string, string]> = [
    [s.sshConfigPath, "the ssh configuration"],
    ["/etc/ssh/ssh_config", "the system ssh configuration"],
    [s.knownHostsPath, "a known_hosts file"],
    ...DEFAULT_GLOBAL_KNOWN_HOSTS.map((f): [string, string] => [f, "a known_hosts file"]),
    ...(s.policyFile ? [[s.policyFile, "Scout's policy file"] as [string, string]] : []),
    ...(s.auditLog ? [[s.auditLog, "Scout's audit log"] as [string, string]] : []),
    ...src.registry.list().flatMap(hostFiles),
  ];
  for (const [file, role] of named) {
    const theirs = await spellings(file);
    if (theirs.some((t) => names.includes(t))) return role;
  }
  const sshDirs = await spellings(join(home(), ".ssh"));
  if (names.some((n) => sshDirs.some((d) => n === d || n.startsWith(d + sep)))) return "inside ~/.ssh";
  return undefined;
}

/** Throws ScoutError("refused") when `path` is a file Scout reads as configuration. */
export async function refuseConfigWrite(path: string, src: ConfigSources): Promise<void> {
  const role = await configRole(path, src);
  if (role === undefined) return;
  throw new ScoutError(
    "refused",
    `Refusing to write ${path}: it is ${role}, which Scout reads as configuration (a tool call may not change it)`,
    { hint: "Download to another path; edit configuration files yourself, outside Scout" },
  );
}
