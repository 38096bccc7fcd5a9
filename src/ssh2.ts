/**
 * The ssh2 library, loaded once for every module that needs its runtime values (types may still be
 * imported from "ssh2" directly).
 *
 * Why a loader: ssh2 fills the random padding of every packet it sends with its own
 * `crypto.randomFillSync` call. On these machines that call costs 10–20 µs (OpenSSL locking and a
 * getpid per call), 4 packets per warm read, about 8 % of a warm read's CPU through `scout`
 * (measured A/B, bench/ and docs/benchmarks.md). ssh2 takes `randomFillSync` from `crypto` when its
 * modules load, so it is handed, for the duration of that load only, a version that serves small
 * requests from a pool filled by the real CSPRNG 4 KiB at a time. Every byte still comes from
 * `randomFillSync` and is handed out once; Node's own `randomUUID` caches entropy the same way.
 * If ssh2 was already loaded by someone else, it keeps the plain function: slower, still correct.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** The `crypto` module object that CommonJS code (ssh2) destructures when it loads. */
const crypto = require("node:crypto") as { randomFillSync: typeof import("node:crypto").randomFillSync };

const POOL_BYTES = 4096;
/** Larger requests (keys, nonces) go straight to the CSPRNG. */
const POOLED_MAX = 64;

const realRandomFillSync = crypto.randomFillSync;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

export function pooledRandomFillSync<T extends NodeJS.ArrayBufferView>(buf: T, offset = 0, size?: number): T {
  const n = size ?? buf.byteLength - offset;
  if (!Buffer.isBuffer(buf) || n > POOLED_MAX || n < 0) return realRandomFillSync(buf, offset, size);
  if (used + n > POOL_BYTES) {
    realRandomFillSync(pool);
    used = 0;
  }
  pool.copy(buf, offset, used, used + n);
  used += n; // bytes before `used` are never handed out again
  return buf;
}

/**
 * Host certificates (see src/ssh/host-cert.ts): ssh2's key exchange parses the server's host key
 * with keyParser.parseDERKey, which it takes when kex.js loads, so the wrapper goes in first. For
 * a `*-cert-v01@openssh.com` key it parses the certified plain key inside; everything else is
 * ssh2's own code.
 */
function installCertifiedHostKeyParsing(): void {
  const keyParser = require("ssh2/lib/protocol/keyParser.js") as {
    parseDERKey(data: Buffer, type: string): unknown;
  };
  const original = keyParser.parseDERKey;
  const fields: Record<string, number> = {
    "ssh-ed25519": 1,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
  };
  keyParser.parseDERKey = (data: Buffer, type: string): unknown => {
    const plain = /^(.+)-cert-v01@openssh\.com$/.exec(type)?.[1];
    const n = plain === undefined ? undefined : fields[plain];
    if (plain === undefined || n === undefined) return original(data, type);
    let p = 4 + data.readUInt32BE(0); // the nonce
    const start = p;
    for (let i = 0; i < n; i++) p += 4 + data.readUInt32BE(p);
    return original(data.subarray(start, p), plain);
  };
}

crypto.randomFillSync = pooledRandomFillSync;
let loaded: typeof import("ssh2");
try {
  installCertifiedHostKeyParsing();
  loaded = require("ssh2") as typeof import("ssh2");
} finally {
  crypto.randomFillSync = realRandomFillSync;
}

const ssh2 = loaded;
export default ssh2;
