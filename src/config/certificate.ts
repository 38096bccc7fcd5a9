/**
 * OpenSSH certificates (PROTOCOL.certkeys), parsed as far as choosing and explaining them needs:
 * which public key a user certificate certifies (to pair it with its private key), its type,
 * principals and validity, and the CA key that signed it (host certificates, @cert-authority).
 */

function sshString(v: Buffer | string): Buffer {
  const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(b.length, 0);
  return Buffer.concat([len, b]);
}

/** What a certificate says, as far as choosing and explaining it needs. */
export interface CertificateInfo {
  /** e.g. ssh-ed25519-cert-v01@openssh.com */
  type: string;
  /** The certified public key as a plain key blob (to find its private key). */
  publicBlob: Buffer;
  /** 1 = user, 2 = host. */
  certType: number;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  /** The CA's public key blob. */
  signatureKey: Buffer;
  /** The CA's signature (an SSH signature blob) and the bytes it signs. */
  signature: Buffer;
  signed: Buffer;
}

/** Number of public key fields after the nonce, per certified key type. */
const KEY_FIELDS: Record<string, number> = {
  "ssh-ed25519": 1,
  "ssh-rsa": 2,
  "ecdsa-sha2-nistp256": 2,
  "ecdsa-sha2-nistp384": 2,
  "ecdsa-sha2-nistp521": 2,
  "ssh-dss": 4,
};

/** Parses an OpenSSH certificate blob (PROTOCOL.certkeys); undefined if it is not one. */
export function parseCertificate(blob: Buffer): CertificateInfo | undefined {
  let p = 0;
  const str = (): Buffer => {
    if (p + 4 > blob.length) throw new Error("truncated");
    const n = blob.readUInt32BE(p);
    if (p + 4 + n > blob.length) throw new Error("truncated");
    const v = blob.subarray(p + 4, p + 4 + n);
    p += 4 + n;
    return v;
  };
  const u64 = (): bigint => {
    if (p + 8 > blob.length) throw new Error("truncated");
    const v = blob.readBigUInt64BE(p);
    p += 8;
    return v;
  };
  try {
    const type = str().toString("latin1");
    const m = /^(.+)-cert-v01@openssh\.com$/.exec(type);
    const plain = m?.[1];
    const fields = plain ? KEY_FIELDS[plain] : undefined;
    if (!plain || fields === undefined) return undefined;
    str(); // nonce
    const keyStart = p;
    for (let i = 0; i < fields; i++) str();
    const publicBlob = Buffer.concat([sshString(plain), blob.subarray(keyStart, p)]);
    u64(); // serial
    const certType = blob.readUInt32BE(p);
    p += 4;
    const keyId = str().toString("utf8");
    const principalsBuf = str();
    const principals: string[] = [];
    for (let q = 0; q < principalsBuf.length;) {
      const n = principalsBuf.readUInt32BE(q);
      principals.push(principalsBuf.subarray(q + 4, q + 4 + n).toString("utf8"));
      q += 4 + n;
    }
    const validAfter = u64();
    const validBefore = u64();
    str(); // critical options
    str(); // extensions
    str(); // reserved
    const signatureKey = str();
    const signed = blob.subarray(0, p);
    const signature = str();
    return {
      type,
      publicBlob,
      certType,
      keyId,
      principals,
      validAfter,
      validBefore,
      signatureKey,
      signature,
      signed,
    };
  } catch {
    return undefined;
  }
}

/** The binary form of a certificate file (`TYPE BASE64 [comment]`), or undefined if it holds none. */
export function certificateBlob(text: string): Buffer | undefined {
  const [type, b64] = text.trim().split(/\s+/);
  if (!type?.endsWith("-cert-v01@openssh.com") || !b64) return undefined;
  return Buffer.from(b64, "base64");
}

/** The signature algorithm and bytes of an SSH signature blob. */
export function splitSignature(sig: Buffer): { algo: string; bytes: Buffer } | undefined {
  if (sig.length < 4) return undefined;
  const n = sig.readUInt32BE(0);
  if (4 + n + 4 > sig.length) return undefined;
  const algo = sig.subarray(4, 4 + n).toString("latin1");
  const m = sig.readUInt32BE(4 + n);
  const bytes = sig.subarray(8 + n, 8 + n + m);
  return bytes.length === m ? { algo, bytes } : undefined;
}
