/**
 * OpenSSH user certificates for ssh2 (which has none: mscdex/ssh2#551), as a patch carried here
 * rather than a fork (README "SSH certificates" says why). A certificate is offered by the
 * publickey method with the algorithm `<sig-alg>-cert-v01@openssh.com` and the certificate blob in
 * place of the public key; the signature is the plain key's (`ssh-ed25519`, `rsa-sha2-256`…).
 * ssh2's Protocol.authPK would write the certificate algorithm into the signature too, so for a
 * key marked with a certificate (withCertificate()) this module builds the two USERAUTH_REQUEST
 * packets itself; every other key goes through ssh2 untouched.
 */
import { createRequire } from "node:module";
import type { ParsedKey } from "ssh2";
import "../ssh2.js"; // ssh2 must be loaded through our loader first (pooled randomFillSync)

const require = createRequire(import.meta.url);

/** The parts of ssh2's internal Protocol object this patch uses. */
interface ProtocolInternals {
  _kex: { sessionID: Buffer };
  _authsQueue: string[];
  _packetRW: { write: { alloc(n: number): Buffer; allocStart: number; finalize(b: Buffer): Buffer } };
}
type SignCallback = (data: Buffer, cb: (signature: Buffer) => void) => void;
type AuthPK = (
  this: ProtocolInternals,
  username: string,
  key: unknown,
  keyAlgo?: string | SignCallback,
  cbSign?: SignCallback,
) => void;

const CERT = Symbol.for("scout-mcp.userCertificate");
const USERAUTH_REQUEST = 50;

export interface CertifiedKey extends ParsedKey {
  [CERT]: Buffer;
}

/** The parsed private key, marked to authenticate with `certBlob` (the certificate's binary form). */
export function withCertificate(key: ParsedKey, certBlob: Buffer): CertifiedKey {
  return Object.assign(key, { [CERT]: certBlob });
}

function sshString(v: Buffer | string): Buffer {
  const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(b.length, 0);
  return Buffer.concat([len, b]);
}

let installed = false;

/** Installs the patch into ssh2's Protocol (once; idempotent). */
export function installUserCertificates(): void {
  if (installed) return;
  installed = true;
  const Protocol = require("ssh2/lib/protocol/Protocol.js") as { prototype: { authPK: AuthPK } };
  const utils = require("ssh2/lib/protocol/utils.js") as {
    convertSignature(sig: Buffer, keyType: string): Buffer | false;
    sendPacket(proto: ProtocolInternals, packet: Buffer): void;
  };
  const original = Protocol.prototype.authPK;
  Protocol.prototype.authPK = function (this: ProtocolInternals, username, key, keyAlgo, cbSign) {
    const cert = (key as Partial<CertifiedKey> | undefined)?.[CERT];
    if (!cert) return original.call(this, username, key, keyAlgo, cbSign);
    const parsed = key as CertifiedKey;
    if (typeof keyAlgo === "function") {
      cbSign = keyAlgo;
      keyAlgo = undefined;
    }
    // ssh2 picks rsa-sha2-256/512 for RSA keys (server-sig-algs); the certificate algorithm follows.
    const sigAlgo = keyAlgo ?? parsed.type;
    const certAlgo = `${sigAlgo}-cert-v01@openssh.com`;
    const request = (signed: boolean): Buffer =>
      Buffer.concat([
        Buffer.from([USERAUTH_REQUEST]),
        sshString(username),
        sshString("ssh-connection"),
        sshString("publickey"),
        Buffer.from([signed ? 1 : 0]),
        sshString(certAlgo),
        sshString(cert),
      ]);
    const send = (payload: Buffer): void => {
      const w = this._packetRW.write;
      const packet = w.alloc(payload.length);
      payload.copy(packet, w.allocStart);
      this._authsQueue.push("publickey");
      utils.sendPacket(this, w.finalize(packet));
    };
    if (!cbSign) return send(request(false));
    const body = request(true);
    cbSign(Buffer.concat([sshString(this._kex.sessionID), body]), (signature) => {
      const sig = utils.convertSignature(signature, parsed.type);
      if (sig === false) throw new Error("Error while converting handshake signature");
      send(Buffer.concat([body, sshString(Buffer.concat([sshString(sigAlgo), sshString(sig)]))]));
    });
  };
}
