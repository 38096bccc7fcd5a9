/**
 * Authentication material for a host, in OpenSSH's order (sshconnect2.c pubkey_prepare): the
 * certificates named by CertificateFile, then ssh-agent's keys (with IdentitiesOnly, only those
 * matching a configured IdentityFile, matched by public key from the private key or its `.pub`),
 * then the IdentityFiles in config order, each followed by its `-cert.pub` certificate. The
 * IdentityFiles are what the config layer resolved: OpenSSH's default `~/.ssh/id_*` only when no
 * IdentityFile applies (HostConfig.defaultIdentities: a missing default is not a problem), none
 * for `IdentityFile none`. The agent is IdentityAgent (a socket path, or "none"), else
 * SSH_AUTH_SOCK. Keys are read asynchronously and cached by path and mtime. Encrypted keys can't
 * be used without a passphrase source, so they are skipped with advice (add them to ssh-agent);
 * FIDO (sk-*) keys are named as what Scout's SSH library cannot use.
 */
import { readFile, stat } from "node:fs/promises";
import type { BaseAgent, IdentityCallback, ParsedKey } from "ssh2";
import ssh2 from "../ssh2.js";
import { ScoutError } from "../errors.js";
import { certificateBlob, parseCertificate } from "./certificate.js";
import type { HostConfig } from "./host.js";

export interface KeyIdentity {
  kind: "key";
  /** The private key file. */
  path: string;
  privateKey: Buffer;
  /** A user certificate to authenticate with instead of the plain key. */
  certificate?: { path: string; blob: Buffer };
}

export interface AgentIdentity {
  kind: "agent";
  /** A socket path, or an agent restricted to the configured keys (IdentitiesOnly). */
  agent: string | BaseAgent;
}

export type Identity = KeyIdentity | AgentIdentity;

export interface Identities {
  /** What to offer, in order. */
  methods: Identity[];
  /** The plain (uncertified) key files among `methods`. */
  keys: Array<{ path: string; privateKey: Buffer }>;
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

function parsedOrUndefined(k: ParsedKey | ParsedKey[] | Error | undefined): ParsedKey | undefined {
  if (k === undefined || k instanceof Error) return undefined;
  return Array.isArray(k) ? k[0] : k;
}

/** The public key blob of a configured identity: from its `.pub` file, else from the private key. */
async function publicBlob(path: string, privateKey: Buffer | undefined): Promise<Buffer | undefined> {
  const fromPub = await readFile(`${path}.pub`).then(
    (b) => parsedOrUndefined(ssh2.utils.parseKey(b)),
    () => undefined,
  );
  const parsed = fromPub ?? (privateKey ? parsedOrUndefined(ssh2.utils.parseKey(privateKey)) : undefined);
  return parsed?.getPublicSSH();
}

/** The FIDO key type of an OpenSSH private key file, if it is one (ssh2 cannot use those). */
function fidoKeyType(buf: Buffer): string | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(buf.toString("latin1"));
  if (!m?.[1]) return undefined;
  const raw = Buffer.from(m[1].replace(/\s+/g, ""), "base64").toString("latin1");
  return /sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com/.exec(raw)?.[0];
}

const cache = new Map<string, { mtimeMs: number; key: Buffer | undefined; problem: string | undefined }>();

async function loadKey(
  path: string,
  reportMissing: boolean,
  alias: string,
): Promise<{ key?: Buffer; problem?: string }> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return reportMissing ? { problem: `IdentityFile ${path} does not exist` } : {};
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
    const fido = fidoKeyType(buf);
    if (fido) {
      problem = `IdentityFile ${path} (Host ${alias}) is a FIDO security key (${fido}): Scout's SSH library (ssh2) cannot use sk-* keys; use a plain ed25519 key for Scout, or reach this host with ssh`;
    } else if (parsed instanceof Error) {
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

/** A certificate file: its blob and the plain public key it certifies, or a problem. */
async function loadCertificate(
  path: string,
  reportMissing: boolean,
): Promise<{ blob: Buffer; publicBlob: Buffer } | { problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return reportMissing ? { problem: `CertificateFile ${path} does not exist` } : {};
  }
  const blob = certificateBlob(text);
  const info = blob ? parseCertificate(blob) : undefined;
  if (!blob || !info) return { problem: `${path} is not an OpenSSH certificate` };
  if (info.certType !== 1) return { problem: `${path} is a host certificate, not a user certificate` };
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (now < info.validAfter || now >= info.validBefore) {
    return { problem: `Certificate ${path} (key id "${info.keyId}") is not valid now` };
  }
  return { blob, publicBlob: info.publicBlob };
}

function blobOfKey(key: Buffer): Buffer | undefined {
  return parsedOrUndefined(ssh2.utils.parseKey(key))?.getPublicSSH();
}

/** The agent socket for a host: IdentityAgent, else SSH_AUTH_SOCK (or `opts.agentSocket`). */
function agentSocketFor(host: HostConfig, envSocket: string | undefined): string | undefined {
  const chosen = host.identityAgent ?? envSocket;
  if (chosen === undefined || chosen.trim() === "" || chosen === "none") return undefined;
  return chosen;
}

export async function resolveIdentities(
  host: HostConfig,
  opts: { agentSocket?: string | undefined } = {},
): Promise<Identities> {
  const envSocket = "agentSocket" in opts ? opts.agentSocket : process.env.SSH_AUTH_SOCK;
  const reportMissing = host.defaultIdentities !== true;
  const files = [...new Set(host.identityFiles)];
  const loaded = await Promise.all(
    files.map(async (path) => ({
      path,
      ...(await loadKey(path, reportMissing, host.alias)),
      // The certificate beside an identity is optional, as in ssh.
      cert: await loadCertificate(`${path}-cert.pub`, false),
    })),
  );
  const certFiles = await Promise.all(
    (host.certificateFiles ?? []).map(async (path) => ({ path, ...(await loadCertificate(path, true)) })),
  );
  const problems: string[] = [
    ...loaded.flatMap((l) => (l.problem ? [l.problem] : [])),
    ...loaded.flatMap((l) => ("problem" in l.cert && l.cert.problem ? [l.cert.problem] : [])),
    ...certFiles.flatMap((c) => ("problem" in c && c.problem ? [c.problem] : [])),
  ];
  const blobs = new Map(loaded.flatMap((l) => (l.key ? [[l.path, blobOfKey(l.key)] as const] : [])));

  const methods: Identity[] = [];
  // 1. CertificateFile: paired with the IdentityFile holding the certified key.
  for (const c of certFiles) {
    if (!("blob" in c)) continue;
    const owner = loaded.find((l) => l.key && blobs.get(l.path)?.equals(c.publicBlob));
    if (owner?.key) {
      methods.push({
        kind: "key",
        path: owner.path,
        privateKey: owner.key,
        certificate: { path: c.path, blob: c.blob },
      });
    } else {
      problems.push(`CertificateFile ${c.path}: no usable IdentityFile holds the private key it certifies`);
    }
  }
  // 2. The agent.
  const agentSocket = agentSocketFor(host, envSocket);
  let agent: Identities["agent"] = agentSocket;
  if (agentSocket && host.identitiesOnly) {
    const allowed = (await Promise.all(loaded.map((l) => publicBlob(l.path, l.key)))).filter(
      (b): b is Buffer => b !== undefined,
    );
    agent = allowed.length > 0 ? new RestrictedAgent(agentSocket, allowed) : undefined;
  }
  if (agent) methods.push({ kind: "agent", agent });
  // 3. The key files, each followed by its -cert.pub.
  const keys: Identities["keys"] = [];
  for (const l of loaded) {
    if (!l.key) continue;
    keys.push({ path: l.path, privateKey: l.key });
    methods.push({ kind: "key", path: l.path, privateKey: l.key });
    if ("blob" in l.cert) {
      if (blobs.get(l.path)?.equals(l.cert.publicBlob)) {
        methods.push({
          kind: "key",
          path: l.path,
          privateKey: l.key,
          certificate: { path: `${l.path}-cert.pub`, blob: l.cert.blob },
        });
      } else problems.push(`${l.path}-cert.pub does not certify the key ${l.path}`);
    }
  }
  if (methods.length === 0) {
    const none =
      host.identityFiles.length === 0 && host.defaultIdentities !== true
        ? " (its ssh config says IdentityFile none)"
        : "";
    throw new ScoutError(
      "key-unusable",
      `No usable SSH key for ${host.alias}${none}${problems.length ? `: ${problems.join("; ")}` : ""}`,
      {
        hint:
          host.identityAgent === "none"
            ? "Set IdentityFile in your ssh config (IdentityAgent none turns the agent off for this host)"
            : "Set IdentityFile in your ssh config, create ~/.ssh/id_ed25519, or start ssh-agent (SSH_AUTH_SOCK)",
      },
    );
  }
  return { methods, keys, agent, problems };
}
