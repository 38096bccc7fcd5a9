/**
 * Wires the configuration's trust material into the engine: host keys from known_hosts and the
 * identities (key files, then ssh-agent) offered for authentication.
 */
import type { AnyAuthMethod } from "ssh2";
import type { HostConfig } from "../config/host.js";
import type { Settings } from "../config/settings.js";
import { KnownHosts, verifyHostKey } from "../config/known-hosts.js";
import { resolveIdentities } from "../config/identities.js";
import type { ConnectionDeps } from "./connection.js";

export async function createConnectionDeps(
  settings: Pick<Settings, "knownHostsPath" | "strictHostKeyChecking">,
  warn: (msg: string) => void,
): Promise<Pick<ConnectionDeps, "verifyHostKey" | "authMethods">> {
  const known = await KnownHosts.load(settings.knownHostsPath);
  return {
    verifyHostKey: (host: HostConfig, key: Buffer) =>
      verifyHostKey({
        known,
        knownHostsPath: settings.knownHostsPath,
        mode: settings.strictHostKeyChecking,
        host,
        key,
        warn,
      }),
    authMethods: async (host: HostConfig): Promise<AnyAuthMethod[]> => {
      const ids = await resolveIdentities(host);
      const methods: AnyAuthMethod[] = ids.keys.map((k) =>
        // keyPath is ours: it lets an auth failure name the keys that were tried.
        Object.assign(
          { type: "publickey" as const, username: host.user, key: k.privateKey },
          { keyPath: k.path },
        ),
      );
      if (ids.agent) methods.push({ type: "agent", username: host.user, agent: ids.agent });
      return methods;
    },
  };
}
