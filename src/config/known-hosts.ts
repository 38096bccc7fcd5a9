/**
 * Host key verification against an OpenSSH known_hosts file: plain and hashed (`|1|salt|hash`)
 * names, `[host]:port`, comma lists, wildcards and negation, `@revoked`, and `@cert-authority`:
 * a host certificate (ssh/host-cert.ts) is trusted when such a line's CA signed it for the name. Each file is re-read
 * when it changes (mtime, checked at most once a second); accept-new appends to the first user file.
 * A host's files are its UserKnownHostsFile (default SCOUT_KNOWN_HOSTS) and GlobalKnownHostsFile
 * (default /etc/ssh/ssh_known_hosts and ssh_known_hosts2), as in ssh.
 */
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, stat, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import picomatch from "picomatch";
import { ScoutError } from "../errors.js";
import type { ParsedKey } from "ssh2";
import ssh2 from "../ssh2.js";
import { parseCertificate, splitSignature, type CertificateInfo } from "./certificate.js";
import type { HostConfig } from "./host.js";
import type { StrictHostKeyChecking } from "./settings.js";

interface Entry {
  marker: "" | "@revoked";
  /** Returns true when the name matches this entry's host field (false on a negated match). */
  matches(name: string): boolean;
  keyType: string;
  blob: Buffer;
}

export type KeyStatus = "known" | "unknown" | "changed" | "revoked";

/** The lookup name OpenSSH uses: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** OpenSSH-style SHA256 fingerprint. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

export function keyscanLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString("base64")}`;
}

export function keyscanCommand(host: string, port: number, file = "~/.ssh/known_hosts"): string {
  return `ssh-keyscan ${port === 22 ? "" : `-p ${port} `}${host} >> ${file}`;
}

function hostFieldMatcher(field: string): (name: string) => boolean {
  if (field.startsWith("|1|")) {
    const [, , saltB64, hashB64] = field.split("|");
    const salt = Buffer.from(saltB64 ?? "", "base64");
    return (name) => createHmac("sha1", salt).update(name).digest("base64") === hashB64;
  }
  const patterns = field.split(",").map((p) => {
    const negated = p.startsWith("!");
    const pat = negated ? p.slice(1) : p;
    const isGlob = /[*?]/.test(pat);
    // known_hosts globs: * and ? only; brackets are literal ([host]:port).
    const m = isGlob
      ? picomatch(pat.replace(/[[\]]/g, "\\$&"), { dot: true, nocase: true })
      : (n: string) => n.toLowerCase() === pat.toLowerCase();
    return { negated, m };
  });
  return (name) => {
    let hit = false;
    for (const p of patterns) {
      if (p.m(name)) {
        if (p.negated) return false;
        hit = true;
      }
    }
    return hit;
  };
}

interface CertAuthority {
  matches(name: string): boolean;
  line: number;
  /** The CA's public key blob. */
  blob: Buffer;
}

function parse(text: string, authorities: CertAuthority[] = []): Entry[] {
  const entries: Entry[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    let marker: Entry["marker"] = "";
    if (parts[0]?.startsWith("@")) {
      const m = parts.shift();
      if (m === "@cert-authority") {
        if (parts[0] && parts[2])
          authorities.push({
            matches: hostFieldMatcher(parts[0]),
            line: i + 1,
            blob: Buffer.from(parts[2], "base64"),
          });
        continue;
      }
      if (m === "@revoked") marker = "@revoked";
      else continue;
    }
    const [hosts, keyType, b64] = parts;
    if (!hosts || !keyType || !b64) continue;
    entries.push({ marker, matches: hostFieldMatcher(hosts), keyType, blob: Buffer.from(b64, "base64") });
  }
  return entries;
}

export class KnownHosts {
  private entries: Entry[] = [];
  private authorities: CertAuthority[] = [];
  private mtimeMs = -1;
  private checkedAt = 0;
  private appending: Promise<void> = Promise.resolve();

  private constructor(readonly path: string) {}

  static async load(path: string): Promise<KnownHosts> {
    const k = new KnownHosts(path);
    await k.refresh(true);
    return k;
  }

  /** Re-reads the file if it changed (checked at most once per second unless forced). */
  async refresh(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    try {
      const s = await stat(this.path);
      if (!force && s.mtimeMs === this.mtimeMs) return;
      this.mtimeMs = s.mtimeMs;
      const authorities: CertAuthority[] = [];
      this.entries = parse(await readFile(this.path, "utf8"), authorities);
      this.authorities = authorities;
    } catch {
      this.mtimeMs = -1;
      this.entries = [];
      this.authorities = [];
    }
  }

  /** The CA keys that @cert-authority lines trust for the host. */
  authoritiesFor(host: string, port: number): Buffer[] {
    const name = knownHostsName(host, port);
    return this.authorities.filter((x) => x.matches(name) || x.matches(host)).map((x) => x.blob);
  }

  /** True when an @revoked line for the host names this key blob (a CA key, a host key). */
  isRevoked(host: string, port: number, blob: Buffer): boolean {
    const name = knownHostsName(host, port);
    return this.entries.some((e) => e.marker === "@revoked" && e.matches(name) && e.blob.equals(blob));
  }

  /** "FILE:LINE" of the first @cert-authority line for the host, if any. */
  certAuthorityFor(host: string, port: number): string | undefined {
    const name = knownHostsName(host, port);
    const a = this.authorities.find((x) => x.matches(name) || x.matches(host));
    return a ? `${this.path}:${a.line}` : undefined;
  }

  /**
   * Status of `key` for the first of `names` that has entries. Entries exist for the name but none
   * matches → "changed" (stricter than OpenSSH, which would prompt for a key of a new type).
   */
  check(names: string[], port: number, key: Buffer): KeyStatus {
    for (const host of names) {
      const name = knownHostsName(host, port);
      const forName = this.entries.filter((e) => e.matches(name));
      if (forName.some((e) => e.marker === "@revoked" && e.blob.equals(key))) return "revoked";
      const plain = forName.filter((e) => e.marker === "");
      if (plain.length === 0) continue;
      return plain.some((e) => e.blob.equals(key)) ? "known" : "changed";
    }
    return "unknown";
  }

  /** Appends a line for a newly trusted key (accept-new). Writes are serialized. */
  append(host: string, port: number, key: Buffer): Promise<void> {
    const line = keyscanLine(host, port, key) + "\n";
    this.appending = this.appending.then(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await appendFile(this.path, line, { mode: 0o600 });
      this.entries.push(...parse(line));
    });
    return this.appending;
  }
}

/** Where OpenSSH looks when GlobalKnownHostsFile is not set. */
export const DEFAULT_GLOBAL_KNOWN_HOSTS = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

/** One KnownHosts per file, shared by every host that names it. */
export class KnownHostsFiles {
  private readonly files = new Map<string, Promise<KnownHosts>>();

  constructor(private readonly defaultUserFile: string) {}

  get(path: string): Promise<KnownHosts> {
    let k = this.files.get(path);
    if (!k) {
      k = KnownHosts.load(path);
      this.files.set(path, k);
    }
    return k;
  }

  /** The host's files: [first user file (accept-new appends there), ...the other user and global files]. */
  async forHost(host: HostConfig): Promise<{ known: KnownHosts; others: KnownHosts[] }> {
    const user = host.userKnownHostsFiles?.length ? host.userKnownHostsFiles : [this.defaultUserFile];
    const global = host.globalKnownHostsFiles ?? DEFAULT_GLOBAL_KNOWN_HOSTS;
    const [known, ...others] = await Promise.all([...user, ...global].map((p) => this.get(p)));
    return { known: known as KnownHosts, others };
  }
}

/**
 * The host's StrictHostKeyChecking as Scout's mode, Scout's setting when unset. "ask" cannot ask
 * anyone: it refuses unknown keys like "yes" (verifyHostKey says so).
 */
export function hostKeyMode(host: HostConfig, fallback: StrictHostKeyChecking): StrictHostKeyChecking {
  switch (host.strictHostKeyChecking) {
    case "yes":
    case "ask":
      return "true";
    case "no":
      return "false";
    case "accept-new":
      return "accept-new";
    default:
      return fallback;
  }
}

export interface VerifyOptions {
  known: KnownHosts;
  /** The host's other known_hosts files (more user files, then the global ones), read only. */
  others?: KnownHosts[];
  knownHostsPath: string;
  mode: StrictHostKeyChecking;
  host: HostConfig;
  key: Buffer;
  warn?: (msg: string) => void;
}

/** Throws ScoutError("host-key-unknown" | "host-key-changed") when the key must be refused. */
export async function verifyHostKey(o: VerifyOptions): Promise<void> {
  const files = [o.known, ...(o.others ?? [])];
  await Promise.all(files.map((f) => f.refresh()));
  const name = o.host.hostKeyAlias ?? o.host.hostname;
  if (keyTypeOf(o.key).endsWith("-cert-v01@openssh.com")) {
    const verdict = checkHostCertificate(o.key, name, o.host.port, files);
    if (verdict === "trusted") return;
    if (verdict !== "no-authority") {
      throw new ScoutError(
        "host-key-changed",
        `Host certificate of ${o.host.alias} (${knownHostsName(name, o.host.port)}) refused: ${verdict}`,
        { hint: "Refusing to connect; check the host's HostCertificate and your @cert-authority lines" },
      );
    }
    // No CA for it: judge the certified plain key, as ssh does.
    const plain = parseCertificate(o.key)?.publicBlob;
    if (plain) return verifyHostKey({ ...o, key: plain });
  }
  const statuses = files.map((f) => f.check([name], o.host.port, o.key));
  // One revoked entry anywhere refuses the key; otherwise one file knowing it is enough.
  const status: KeyStatus = statuses.includes("revoked")
    ? "revoked"
    : statuses.includes("known")
      ? "known"
      : statuses.includes("changed")
        ? "changed"
        : "unknown";
  const fp = fingerprint(o.key);
  const where = `${o.host.alias} (${knownHostsName(name, o.host.port)})`;
  if (status === "known") return;
  if (o.mode === "false") {
    if (status !== "unknown")
      o.warn?.(
        `Host key for ${where} is ${status} (${fp}); accepted because SCOUT_STRICT_HOST_KEY_CHECKING=false`,
      );
    return;
  }
  if (status === "revoked") {
    throw new ScoutError(
      "host-key-changed",
      `Host key for ${where} is revoked in ${o.knownHostsPath} (${fp})`,
      {
        hint: "Refusing to connect; investigate the host",
      },
    );
  }
  if (status === "changed") {
    throw new ScoutError(
      "host-key-changed",
      `HOST KEY CHANGED for ${where}: it now presents ${keyTypeOf(o.key)} ${fp}, which does not match ${o.knownHostsPath}`,
      {
        hint: `This may be an attack. If the host was really reinstalled, remove the old key with "ssh-keygen -R '${knownHostsName(name, o.host.port)}' -f ${o.knownHostsPath}" and add the new one`,
      },
    );
  }
  if (o.mode === "accept-new") {
    await o.known.append(name, o.host.port, o.key);
    o.warn?.(`Trusted new host key for ${where} (${fp}) and added it to ${o.knownHostsPath}`);
    return;
  }
  const authority = files.map((f) => f.certAuthorityFor(name, o.host.port)).find((a) => a !== undefined);
  if (authority) {
    throw new ScoutError(
      "host-key-unknown",
      `Unknown host key for ${where}: ${keyTypeOf(o.key)} ${fp}. Its known_hosts trusts a certificate authority for it (@cert-authority at ${authority}), but the host presented a plain key, not a certificate (Scout asks for ed25519 and ECDSA host certificates)`,
      {
        hint: `Add the host's plain key: ${keyscanCommand(name, o.host.port, o.knownHostsPath)} (after verifying it)`,
      },
    );
  }
  if (o.host.strictHostKeyChecking === "ask") {
    throw new ScoutError(
      "host-key-unknown",
      `Unknown host key for ${where}: ${keyTypeOf(o.key)} ${fp}. Its ssh config says StrictHostKeyChecking ask, and Scout has nobody to ask, so it refuses`,
      {
        hint: `Verify the key, then add it with: ${keyscanCommand(name, o.host.port, o.knownHostsPath)}, or set StrictHostKeyChecking accept-new for ${o.host.alias}`,
      },
    );
  }
  throw new ScoutError("host-key-unknown", `Unknown host key for ${where}: ${keyTypeOf(o.key)} ${fp}`, {
    hint: `Verify it, then add it with: ${keyscanCommand(name, o.host.port, o.knownHostsPath)} (or the line: ${keyscanLine(name, o.host.port, o.key)}), or set SCOUT_STRICT_HOST_KEY_CHECKING=accept-new`,
  });
}

/**
 * Checks a host certificate as ssh does: a host certificate, signed by a CA that an
 * @cert-authority line trusts for the name (and that is not @revoked), valid now, for a principal
 * equal to the name (no principals: any host). "trusted", "no-authority", or why it is refused.
 */
export function checkHostCertificate(
  cert: Buffer,
  name: string,
  port: number,
  files: KnownHosts[],
): "trusted" | "no-authority" | string {
  const info = parseCertificate(cert);
  if (!info) return "it cannot be parsed";
  const cas = files.flatMap((f) => f.authoritiesFor(name, port));
  if (!cas.some((ca) => ca.equals(info.signatureKey))) return "no-authority";
  if (files.some((f) => f.isRevoked(name, port, info.signatureKey))) return "its CA key is @revoked";
  if (info.certType !== 2) return "it is a user certificate, not a host certificate";
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (now < info.validAfter || now >= info.validBefore) return `it is not valid now (key id "${info.keyId}")`;
  if (info.principals.length > 0 && !info.principals.includes(name)) {
    return `it is for ${info.principals.join(", ")}, not ${name}`;
  }
  return verifyCertificateSignature(info) ? "trusted" : "its CA signature does not verify";
}

/** DER INTEGER of an unsigned big-endian number (SSH mpint bytes). */
function derInteger(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>= 8) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function verifyCertificateSignature(info: CertificateInfo): boolean {
  const sig = splitSignature(info.signature);
  if (!sig) return false;
  const caType = keyTypeOf(info.signatureKey);
  const ca = ssh2.utils.parseKey(`${caType} ${info.signatureKey.toString("base64")}`);
  const key = Array.isArray(ca) ? (ca[0] as ParsedKey | undefined) : ca;
  if (!key || key instanceof Error) return false;
  let bytes = sig.bytes;
  let hash: string | undefined;
  if (sig.algo === "rsa-sha2-256") hash = "sha256";
  else if (sig.algo === "rsa-sha2-512") hash = "sha512";
  else if (sig.algo.startsWith("ecdsa-sha2-")) {
    // SSH's (mpint r, mpint s) to the DER SEQUENCE node:crypto verifies.
    const rLen = bytes.readUInt32BE(0);
    const r = bytes.subarray(4, 4 + rLen);
    const s = bytes.subarray(8 + rLen, 8 + rLen + bytes.readUInt32BE(4 + rLen));
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    bytes = Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  }
  return key.verify(info.signed, bytes, hash) === true;
}
