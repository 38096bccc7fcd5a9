/**
 * One host as Scout connects to it, resolved from ssh_config. This is the contract between the
 * config layer (which resolves it the way `ssh -G` does) and the ssh layer (which dials it).
 * Optional fields are unset when the config does not set them: Scout's own settings apply then.
 */
export interface HostConfig {
  /** The name users type: the `Host` alias. */
  alias: string;
  hostname: string;
  port: number;
  user: string;
  /**
   * IdentityFile paths as `ssh -G` lists them, `~` and `%` tokens expanded, in ssh_config order:
   * OpenSSH's default `~/.ssh/id_*` candidates when no IdentityFile applies (see
   * `defaultIdentities`), empty for `IdentityFile none`.
   */
  identityFiles: string[];
  /** True when `identityFiles` are OpenSSH's defaults: a missing one is not a problem to report. */
  defaultIdentities?: boolean;
  /** CertificateFile paths, expanded (a `-cert.pub` beside an identity is found at dial time). */
  certificateFiles?: string[];
  /** IdentitiesOnly: only `identityFiles` (and agent keys matching them) are offered. */
  identitiesOnly: boolean;
  /**
   * IdentityAgent: an expanded socket path, or "none" (no agent). Unset: `SSH_AUTH_SOCK`. The value
   * "SSH_AUTH_SOCK" is resolved by the config layer to the environment's socket.
   */
  identityAgent?: string;
  /** Jump hosts to traverse in order (first is dialed directly); empty means direct. */
  proxyJump: HostConfig[];
  /** ProxyJump as written (ssh -G's `proxyjump` line), for display. */
  proxyJumpSpec?: string;
  /**
   * ProxyCommand as written, `%` tokens not yet expanded (the dialer expands %h %p %r %n %% with
   * the resolved values, then runs it with `/bin/sh -c`, as ssh does). Excludes proxyJump.
   */
  proxyCommand?: string;
  /** Name under which the host key is looked up in known_hosts (`HostKeyAlias`), if set. */
  hostKeyAlias?: string;
  /** UserKnownHostsFile paths, expanded; unset: Scout's default (~/.ssh/known_hosts). */
  userKnownHostsFiles?: string[];
  /** GlobalKnownHostsFile paths; unset: /etc/ssh/ssh_known_hosts(2). */
  globalKnownHostsFiles?: string[];
  /** StrictHostKeyChecking; unset: Scout's SCOUT_STRICT_HOST_KEY_CHECKING setting. "ask" is refused like "yes". */
  strictHostKeyChecking?: "yes" | "accept-new" | "no" | "ask";
  /** ConnectTimeout in seconds; unset: SCOUT_CONNECT_TIMEOUT. */
  connectTimeoutSec?: number;
  /** ServerAliveInterval in seconds (0 = off); unset: Scout's keepalive setting. */
  serverAliveIntervalSec?: number;
  /** ServerAliveCountMax; unset: 3. */
  serverAliveCountMax?: number;
  /**
   * Warnings about this host's resolution: keywords Scout ignores that change the route or the
   * identity, a Match exec that failed… Shown by `resolve`, `doctor` and in logs.
   */
  warnings?: string[];
  /**
   * Set when the config entry can never connect (a ProxyJump loop, an unparsable ProxyJump, a chain
   * too long, a config file that does not parse): the host stays listed so that using it says why,
   * and every connection attempt fails with this text as a ScoutError("config") before any network
   * traffic.
   */
  configError?: string;
}

/** "user@hostname:port", as shown in host lists. */
export function hostAddress(h: HostConfig): string {
  return `${h.user}@${h.hostname}:${h.port}`;
}
