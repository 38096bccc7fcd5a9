/**
 * OpenSSH host certificates for ssh2 (which has none), as a patch carried here: for a host whose
 * known_hosts has a matching `@cert-authority` line, the certificate host key algorithms are asked
 * for first (sshd presents its HostCertificate only to a client that asks, as ssh does); the
 * certificate is verified against the CA by config/known-hosts.ts; then, since ssh2 would check
 * the key exchange signature against the certificate's algorithm name, the negotiated algorithm is
 * set to the certified key's own (`ssh-ed25519`…) before the signature is checked. src/ssh2.ts
 * teaches ssh2's key parser to read the certified key inside a certificate.
 */
import { createRequire } from "node:module";
import type { Client } from "ssh2";
import "../ssh2.js";

const require = createRequire(import.meta.url);

/** ed25519 and ECDSA host certificates (RSA ones would need ssh2's rsa-sha2 exceptions too). */
export const HOST_CERT_ALGORITHMS = [
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
];

let installed = false;
let defaults: string[] = [];

function install(): void {
  if (installed) return;
  installed = true;
  const constants = require("ssh2/lib/protocol/constants.js") as {
    SUPPORTED_SERVER_HOST_KEY: string[];
    DEFAULT_SERVER_HOST_KEY: string[];
  };
  defaults = [...constants.DEFAULT_SERVER_HOST_KEY];
  // ssh2 validates a configured list against this array (shared with its client module).
  for (const a of HOST_CERT_ALGORITHMS) {
    if (!constants.SUPPORTED_SERVER_HOST_KEY.includes(a)) constants.SUPPORTED_SERVER_HOST_KEY.push(a);
  }
}

/** The host key algorithms to offer a host with a certificate authority: certificates first. */
export function certificateFirstAlgorithms(): string[] {
  install();
  return [...HOST_CERT_ALGORITHMS, ...defaults];
}

/**
 * Called with the host key the server presented, before it is judged: for a certificate, ssh2's
 * check of the key exchange signature must expect the certified key's algorithm.
 */
export function acceptHostCertificate(client: Client, key: Buffer): void {
  const type = key.subarray(4, 4 + key.readUInt32BE(0)).toString("latin1");
  const plain = /^(.+)-cert-v01@openssh\.com$/.exec(type)?.[1];
  if (!plain) return;
  // ssh2 internals (no public API for this): the current key exchange's negotiated algorithms.
  const kex = (client as unknown as { _protocol?: { _kex?: { negotiated?: { serverHostKey?: string } } } })
    ._protocol?._kex;
  if (kex?.negotiated) kex.negotiated.serverHostKey = plain;
}
