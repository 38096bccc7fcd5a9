/**
 * Authentication material for a host, in OpenSSH's order: the configured IdentityFiles, then
 * (unless IdentitiesOnly) the default ~/.ssh/id_* keys, then ssh-agent. Keys are read
 * asynchronously and cached by path and mtime. Encrypted keys can't be used without a passphrase
 * source, so they are skipped with advice (add them to ssh-agent).
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { ScoutError } from "../errors.js";
import type { HostConfig } from "./host.js";

export interface Identities {
  keys: Array<{ path: string; privateKey: Buffer }>;
  agent: string | undefined;
  problems: string[];
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
  if (keys.length === 0 && !agentSocket) {
    throw new ScoutError(
      "key-unusable",
      `No usable SSH key for ${host.alias}${problems.length ? `: ${problems.join("; ")}` : ""}`,
      {
        hint: "Set IdentityFile in your ssh config, create ~/.ssh/id_ed25519, or start ssh-agent (SSH_AUTH_SOCK)",
      },
    );
  }
  return { keys, agent: agentSocket, problems };
}
