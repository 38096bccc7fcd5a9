/**
 * `scout-mcp resolve HOST…`: what Scout will do for each host, in `ssh -G`'s format (lowercase
 * `key value` lines), hosts separated by a blank line, each followed by its warnings as
 * `# warning:` lines. Like `ssh -G` it resolves any name (an unlisted one gets the defaults) and
 * lists identity files whether they exist or not. Where the config is silent, Scout's own
 * settings appear (SCOUT_STRICT_HOST_KEY_CHECKING, SCOUT_CONNECT_TIMEOUT, SCOUT_KEEPALIVE_INTERVAL,
 * SCOUT_KNOWN_HOSTS, SSH_AUTH_SOCK). Exit status 1 when ssh would refuse a name or the config.
 */
import type { HostConfig } from "../config/host.js";
import { makeHostFilter } from "../config/host-filter.js";
import { sshConfigLoadOptions } from "../config/registry.js";
import type { Settings } from "../config/settings.js";
import { loadSshConfig, resolveHostAsync } from "../config/ssh-config.js";
import { errorMessage, isScoutError } from "../errors.js";
import type { Out } from "./term.js";

/** What a host gets where its config is silent. */
export interface ResolveDefaults {
  stricthostkeychecking: string;
  connecttimeout: string;
  serveraliveinterval: string;
  userknownhostsfile: string;
  /** undefined: no identityagent line. */
  identityagent: string | undefined;
}

/** Scout's own settings as the defaults (what Scout will really do). */
export function scoutDefaults(
  settings: Pick<
    Settings,
    "strictHostKeyChecking" | "connectTimeoutMs" | "keepaliveIntervalMs" | "knownHostsPath"
  >,
): ResolveDefaults {
  return {
    stricthostkeychecking: settings.strictHostKeyChecking,
    connecttimeout: String(Math.round(settings.connectTimeoutMs / 1000)),
    serveraliveinterval: String(Math.round(settings.keepaliveIntervalMs / 1000)),
    userknownhostsfile: settings.knownHostsPath,
    identityagent: process.env.SSH_AUTH_SOCK,
  };
}

const STRICT: Record<NonNullable<HostConfig["strictHostKeyChecking"]>, string> = {
  yes: "true",
  no: "false",
  ask: "ask",
  "accept-new": "accept-new",
};

/** The `ssh -G`-style lines for one resolved host (no warnings). */
export function resolveLines(h: HostConfig, d: ResolveDefaults): string[] {
  const out: string[] = [`hostname ${h.hostname}`, `user ${h.user}`, `port ${h.port}`];
  for (const f of h.identityFiles) out.push(`identityfile ${f}`);
  out.push(`identitiesonly ${h.identitiesOnly ? "yes" : "no"}`);
  const agent = h.identityAgent ?? d.identityagent;
  if (agent !== undefined) out.push(`identityagent ${agent}`);
  for (const f of h.certificateFiles ?? []) out.push(`certificatefile ${f}`);
  if (h.proxyJumpSpec !== undefined) out.push(`proxyjump ${h.proxyJumpSpec}`);
  if (h.proxyCommand !== undefined) out.push(`proxycommand ${h.proxyCommand}`);
  if (h.hostKeyAlias !== undefined) out.push(`hostkeyalias ${h.hostKeyAlias}`);
  const list = (files: string[] | undefined, def: string) =>
    files === undefined ? def : files.length === 0 ? "none" : files.join(" ");
  out.push(`userknownhostsfile ${list(h.userKnownHostsFiles, d.userknownhostsfile)}`);
  out.push(
    `globalknownhostsfile ${list(h.globalKnownHostsFiles, "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2")}`,
  );
  out.push(
    `stricthostkeychecking ${h.strictHostKeyChecking !== undefined ? STRICT[h.strictHostKeyChecking] : d.stricthostkeychecking}`,
  );
  out.push(`connecttimeout ${h.connectTimeoutSec ?? d.connecttimeout}`);
  out.push(`serveraliveinterval ${h.serverAliveIntervalSec ?? d.serveraliveinterval}`);
  out.push(`serveralivecountmax ${h.serverAliveCountMax ?? 3}`);
  return out;
}

/** `[user@]host` as ssh takes it on the command line. */
function splitName(arg: string): { user?: string; host: string } {
  const at = arg.lastIndexOf("@");
  return at > 0 ? { user: arg.slice(0, at), host: arg.slice(at + 1) } : { host: arg };
}

export async function runResolve(
  settings: Settings,
  names: string[],
  io: { out: Out; err: Out },
): Promise<number> {
  if (names.length === 0) {
    io.err.write("Error: resolve needs at least one host name, e.g. scout-mcp resolve web1\n");
    return 2;
  }
  const loaded = await loadSshConfig(settings.sshConfigPath, sshConfigLoadOptions(settings));
  const allowed = makeHostFilter(settings.allowHosts, settings.denyHosts);
  const defaults = scoutDefaults(settings);
  let status = 0;
  const blocks: string[] = [];
  for (const name of names) {
    const { user, host } = splitName(name);
    try {
      const h = await resolveHostAsync(loaded.config, host, {
        ...(user !== undefined ? { user } : {}),
        execTimeoutMs: loaded.execTimeoutMs,
      });
      const lines = resolveLines(h, defaults);
      const warnings = [...(h.warnings ?? [])];
      if (!allowed(host))
        warnings.push(`${host} is not served: SCOUT_ALLOW_HOSTS / SCOUT_DENY_HOSTS exclude it`);
      if (!loaded.hosts.some((x) => x.alias === host)) {
        warnings.push(`${host} is not a Host alias in ${settings.sshConfigPath}: Scout does not list it`);
      }
      for (const w of warnings) lines.push(`# warning: ${w}`);
      blocks.push(lines.join("\n"));
    } catch (e) {
      if (!isScoutError(e)) throw e;
      status = 1;
      blocks.push(`# error: ${name}: ${errorMessage(e)}`);
      io.err.write(`Error: ${name}: ${errorMessage(e)}\n`);
    }
  }
  io.out.write(`${blocks.join("\n\n")}\n`);
  return status;
}
