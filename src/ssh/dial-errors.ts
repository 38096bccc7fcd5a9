/**
 * What a failed SSH handshake means, in words a user can act on: an authentication failure names
 * the keys tried; a negotiation failure names the capability the SSH library (ssh2) lacks and the
 * server requires (a key exchange, a host key type…); a ProxyCommand that died says what it
 * printed.
 */
import type { AnyAuthMethod } from "ssh2";
import type { HostConfig } from "../config/host.js";
import { ScoutError } from "../errors.js";
import type { ProxyProcess } from "./proxy-command.js";

/** ssh2's negotiation failures, and the capability each means Scout lacks. */
const NEGOTIATION: Array<[RegExp, string]> = [
  [
    /no matching key exchange/i,
    "a key exchange algorithm this server accepts (ssh2 lacks e.g. mlkem768x25519-sha256 and sntrup761x25519-sha512)",
  ],
  [
    /no matching host key/i,
    "a host key algorithm this server offers (ssh2 lacks sk-* and RSA-certificate host keys)",
  ],
  [/no matching .*cipher/i, "a cipher this server accepts"],
  [/no matching .*MAC/i, "a MAC algorithm this server accepts"],
  [/no matching .*compression/i, "a compression method this server accepts"],
];

export function classifyHandshakeError(
  err: Error & { level?: string },
  hop: HostConfig,
  methods: AnyAuthMethod[],
  proxy?: ProxyProcess,
): ScoutError {
  const where = `${hop.alias} (${hop.hostname}:${hop.port})`;
  if (err.level === "client-authentication") {
    const tried = methods.map(describeMethod).join(", ");
    return new ScoutError(
      "auth-failed",
      `Authentication failed for ${hop.user}@${hop.hostname}:${hop.port} (${hop.alias}); tried ${tried || "no keys"}`,
      {
        hint: "Check User and IdentityFile in your ssh config, and that the public key is in the remote authorized_keys",
        cause: err,
      },
    );
  }
  for (const [re, lacks] of NEGOTIATION) {
    if (re.test(err.message)) {
      return new ScoutError(
        "connection-lost",
        `SSH handshake with ${where} failed: Scout's SSH library (ssh2) has no ${lacks}`,
        {
          hint: `Enable a classic algorithm on the server (e.g. curve25519-sha256, ssh-ed25519 host keys), or use ssh for this host (${err.message})`,
          cause: err,
        },
      );
    }
  }
  const exited = proxy?.exitText();
  if (exited) {
    return new ScoutError("connection-lost", `Cannot connect to ${where}: ${exited}`, {
      hint: "Run the ProxyCommand by hand to see why it fails (ssh -v shows it too)",
      cause: err,
    });
  }
  const said = proxy?.stderrText();
  return new ScoutError(
    "connection-lost",
    `SSH handshake with ${where} failed: ${err.message}${said ? `; ProxyCommand said: ${said}` : ""}`,
    {
      hint: proxy ? "Check the host's ProxyCommand" : "Is an SSH server listening on that port?",
      cause: err,
    },
  );
}

function describeMethod(m: AnyAuthMethod): string {
  if (m.type === "agent") return "ssh-agent";
  if (m.type !== "publickey") return m.type;
  const withPath = m as AnyAuthMethod & { keyPath?: string; certPath?: string };
  if (withPath.certPath) return `certificate ${withPath.certPath}`;
  return withPath.keyPath ? `key ${withPath.keyPath}` : "a key";
}
