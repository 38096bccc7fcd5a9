/**
 * Authentication material for a host, in OpenSSH's order: the configured IdentityFiles, then
 * (unless IdentitiesOnly) the default ~/.ssh/id_* keys, then ssh-agent. Keys are read
 * asynchronously and cached by path and mtime. Encrypted keys can't be used without a passphrase
 * source, so they are skipped with advice (add them to ssh-agent). With IdentitiesOnly, as in
 * OpenSSH, the agent may only sign with the configured keys (matched by public key, from the
 * private key or its `.pub`): offering every agent key is what trips sshd's MaxAuthTries.
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { BaseAgent, IdentityCallback, ParsedKey } from "ssh2";
import ssh2 from "../ssh2.js";
import { ScoutError } from "../errors.js";
import type { HostConfig } from "./host.js";

export interface Identities {
  keys: Array<{ path: string; privateKey: Buffer }>;
  /** A socket path, or an agent restricted to the configured keys (IdentitiesOnly). */
  agent: string | BaseAgent | undefined;
  problems: string[];
}

const { OpenSSHAgent } = ssh2;

/** An ssh-agent that lists only the identities whose public key is in `allowed`. */
export class RestrictedAgent extends OpenSSHAgent {
  constructor(
    socketPath: string,
    private readonly allowed: Buffer[],
  ) {
    super(socketPath);
  }

  override getIdentities(cb: IdentityCallback<ParsedKey>): void {
    super.getIdentities((err, keys) => {
      if (err || !keys) return cb(err, keys);
      // OpenSSHAgent yields parsed keys; any other entry shape can't be matched, so it is dropped.
      cb(
        undefined,
        keys.filter((k) => "getPublicSSH" in k && this.allowed.some((pub) => pub.equals(k.getPublicSSH()))),
      );
    });
  }
}

/** The public key blob of a configured identity: from its `.pub` file, else from the private key. */
async function publicBlob(path: string, privateKey: Buffer | undefined): Promise<Buffer | undefined> {
  const fromPub = await readFile(`${path}.pub`).then(
    (b) => ssh2.utils.parseKey(b),
    () => undefined,
  );
  const parsed =
    fromPub && !(fromPub instanceof Error)
      ? fromPub
      : privateKey
        ? ssh2.utils.parseKey(privateKey)
        : undefined;
  return parsed && !(parsed instanceof Error) ? parsed.getPublicSSH() : undefined;
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa", "id_ecdsa_sk", "id_ed25519_sk", "id_dsa"];

const cache = new Map<string, { mtimeMs: number; key: Buffer | undefined; problem: string | undefined }>();

async function loadKey(path: string, configured: boolean): Promise<{ key?: Buffer; problem?: string }> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return configured ? { problem: `IdentityFile ${path} does not exist` } : {};
  }
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === mtimeMs) {
    return { ...(hit.key ? { key: hit.key } : {}), ...(hit.problem ? { problem: hit.problem } : {}) };
  }
  let key: Buffer | undefined;
  let problem: string | undefined;
  try {
    const buf = await readFile(path);
    const parsed = ssh2.utils.parseKey(buf);
    if (parsed instanceof Error) {
      problem = /passphrase|encrypted/i.test(parsed.message)
        ? `Key ${path} is encrypted and Scout has no passphrase for it: add it to ssh-agent (ssh-add ${path}) or point IdentityFile at an unencrypted key`
        : `Key ${path} cannot be used: ${parsed.message}`;
    } else {
      key = buf;
    }
  } catch (e) {
    problem = `Cannot read key ${path}: ${(e as Error).message}`;
  }
  cache.set(path, { mtimeMs, key, problem });
  return { ...(key ? { key } : {}), ...(problem ? { problem } : {}) };
}

export async function resolveIdentities(
  host: HostConfig,
  opts: { home?: string; agentSocket?: string | undefined } = {},
): Promise<Identities> {
  const home = opts.home ?? homedir();
  const agent = "agentSocket" in opts ? opts.agentSocket : process.env.SSH_AUTH_SOCK;
  const candidates: Array<{ path: string; configured: boolean }> = host.identityFiles.map((p) => ({
    path: p,
    configured: true,
  }));
  if (!host.identitiesOnly) {
    for (const name of DEFAULT_KEYS) candidates.push({ path: join(home, ".ssh", name), configured: false });
  }
  const seen = new Set<string>();
  const unique = candidates.filter((c) => (seen.has(c.path) ? false : (seen.add(c.path), true)));
  const loaded = await Promise.all(
    unique.map(async (c) => ({ path: c.path, ...(await loadKey(c.path, c.configured)) })),
  );
  const keys = loaded.flatMap((l) => (l.key ? [{ path: l.path, privateKey: l.key }] : []));
  const problems = loaded.flatMap((l) => (l.problem ? [l.problem] : []));
  const agentSocket = agent && agent.trim() !== "" ? agent : undefined;
  let agentOut: Identities["agent"] = agentSocket;
  if (agentSocket && host.identitiesOnly) {
    const allowed = (
      await Promise.all(
        loaded.filter((l) => host.identityFiles.includes(l.path)).map((l) => publicBlob(l.path, l.key)),
      )
    ).filter((b): b is Buffer => b !== undefined);
    agentOut = allowed.length > 0 ? new RestrictedAgent(agentSocket, allowed) : undefined;
  }
  if (keys.length === 0 && !agentOut) {
    throw new ScoutError(
      "key-unusable",
      `No usable SSH key for ${host.alias}${problems.length ? `: ${problems.join("; ")}` : ""}`,
      {
        hint: "Set IdentityFile in your ssh config, create ~/.ssh/id_ed25519, or start ssh-agent (SSH_AUTH_SOCK)",
      },
    );
  }
  return { keys, agent: agentOut, problems };
}
