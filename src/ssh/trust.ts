/**
 * Wires the configuration's trust material into the engine: host keys from each host's known_hosts
 * files (UserKnownHostsFile, GlobalKnownHostsFile) under its StrictHostKeyChecking, and the
 * identities offered for authentication, in OpenSSH's order (config/identities.ts), user
 * certificates included (ssh/user-cert.ts).
 */
import type { AnyAuthMethod, ParsedKey } from "ssh2";
import ssh2 from "../ssh2.js";
import type { HostConfig } from "../config/host.js";
import type { Settings } from "../config/settings.js";
import { KnownHostsFiles, hostKeyMode, verifyHostKey } from "../config/known-hosts.js";
import { resolveIdentities, type Identity } from "../config/identities.js";
import type { ConnectionDeps } from "./connection.js";
import { installUserCertificates, withCertificate } from "./user-cert.js";
import { certificateFirstAlgorithms } from "./host-cert.js";

/** The ssh2 auth methods for a host's identities, in order. keyPath/certPath are ours, for messages. */
export function authMethodsFor(host: HostConfig, identities: Identity[]): AnyAuthMethod[] {
  return identities.flatMap((id): AnyAuthMethod[] => {
    if (id.kind === "agent") return [{ type: "agent", username: host.user, agent: id.agent }];
    if (!id.certificate) {
      return [
        Object.assign(
          { type: "publickey" as const, username: host.user, key: id.privateKey },
          { keyPath: id.path },
        ),
      ];
    }
    const parsed = ssh2.utils.parseKey(id.privateKey);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
    if (!key || key instanceof Error) return [];
    installUserCertificates();
    return [
      Object.assign(
        { type: "publickey" as const, username: host.user, key: withCertificate(key, id.certificate.blob) },
        { keyPath: id.path, certPath: id.certificate.path },
      ),
    ];
  });
}

export async function createConnectionDeps(
  settings: Pick<Settings, "knownHostsPath" | "strictHostKeyChecking">,
  warn: (msg: string) => void,
): Promise<Pick<ConnectionDeps, "verifyHostKey" | "authMethods" | "hostKeyAlgorithms">> {
  const files = new KnownHostsFiles(settings.knownHostsPath);
  await files.get(settings.knownHostsPath);
  return {
    verifyHostKey: async (host: HostConfig, key: Buffer) => {
      const { known, others } = await files.forHost(host);
      await verifyHostKey({
        known,
        others,
        knownHostsPath: known.path,
        mode: hostKeyMode(host, settings.strictHostKeyChecking),
        host,
        key,
        warn,
      });
    },
    hostKeyAlgorithms: async (host: HostConfig) => {
      const { known, others } = await files.forHost(host);
      const name = host.hostKeyAlias ?? host.hostname;
      const hasAuthority = [known, ...others].some((f) => f.authoritiesFor(name, host.port).length > 0);
      return hasAuthority ? certificateFirstAlgorithms() : undefined;
    },
    authMethods: async (host: HostConfig): Promise<AnyAuthMethod[]> => {
      const ids = await resolveIdentities(host);
      return authMethodsFor(host, ids.methods);
    },
  };
}
