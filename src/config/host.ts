/** One host as Scout connects to it, resolved from ssh_config. */
export interface HostConfig {
  /** The name users type: the `Host` alias. */
  alias: string;
  hostname: string;
  port: number;
  user: string;
  /** Absolute paths, `~` and `%` tokens already expanded, in ssh_config order. */
  identityFiles: string[];
  /** When true, only `identityFiles` (and no default keys or agent identities) are offered. */
  identitiesOnly: boolean;
  /** Jump hosts to traverse in order (first is dialed directly); empty means direct. */
  proxyJump: HostConfig[];
  /** Name under which the host key is looked up in known_hosts (`HostKeyAlias`), if set. */
  hostKeyAlias?: string;
  /**
   * Set when the config entry can never connect (a ProxyJump loop, an unparsable ProxyJump, a chain
   * too long): the host stays listed so that using it says why, and every connection attempt fails
   * with this text as a ScoutError("config") before any network traffic.
   */
  configError?: string;
}

/** "user@hostname:port", as shown in host lists. */
export function hostAddress(h: HostConfig): string {
  return `${h.user}@${h.hostname}:${h.port}`;
}
