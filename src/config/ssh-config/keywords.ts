/**
 * The keywords OpenSSH 9.2 (Debian 12 build: GSSAPI, PKCS#11 and the keepalive patch) accepts,
 * and how each value is checked. A value ssh refuses makes the whole file fatal, so each check
 * here follows readconf.c's case for that keyword. Values of keywords Scout does not use are
 * still checked (ssh would refuse the file), with the depth noted per kind below.
 */
import { a2port, atoiErr, convtime, domainError, parseJump, type JumpValue } from "./values.js";

/** readconf.c's multistate tables (case-insensitive). */
const FLAG = ["true", "false", "yes", "no"] as const;
const MULTI = {
  flag: FLAG,
  yesnoask: [...FLAG, "ask"],
  stricthostkey: [...FLAG, "ask", "off", "accept-new"],
  addressfamily: ["inet", "inet6", "any"],
  controlmaster: [...FLAG, "auto", "ask", "autoask"],
  tunnel: ["ethernet", "point-to-point", ...FLAG],
  requesttty: [...FLAG, "force", "auto"],
  sessiontype: ["none", "subsystem", "default"],
  canonicalize: [...FLAG, "always"],
  pubkeyauth: [...FLAG, "unbound", "host-bound"],
  compression: ["yes", "no"],
} as const;

const CIPHERS = new Set(
  "3des-cbc aes128-cbc aes192-cbc aes256-cbc aes128-ctr aes192-ctr aes256-ctr aes128-gcm@openssh.com aes256-gcm@openssh.com chacha20-poly1305@openssh.com".split(
    " ",
  ),
);
const MACS = new Set(
  "hmac-sha1 hmac-sha1-96 hmac-sha2-256 hmac-sha2-512 hmac-md5 hmac-md5-96 umac-64@openssh.com umac-128@openssh.com hmac-sha1-etm@openssh.com hmac-sha1-96-etm@openssh.com hmac-sha2-256-etm@openssh.com hmac-sha2-512-etm@openssh.com hmac-md5-etm@openssh.com hmac-md5-96-etm@openssh.com umac-64-etm@openssh.com umac-128-etm@openssh.com".split(
    " ",
  ),
);
const KEX = new Set(
  "diffie-hellman-group1-sha1 diffie-hellman-group14-sha1 diffie-hellman-group14-sha256 diffie-hellman-group16-sha512 diffie-hellman-group18-sha512 diffie-hellman-group-exchange-sha1 diffie-hellman-group-exchange-sha256 ecdh-sha2-nistp256 ecdh-sha2-nistp384 ecdh-sha2-nistp521 curve25519-sha256 curve25519-sha256@libssh.org sntrup761x25519-sha512 sntrup761x25519-sha512@openssh.com".split(
    " ",
  ),
);
const KEY_TYPES =
  "ssh-ed25519 ssh-ed25519-cert-v01@openssh.com sk-ssh-ed25519@openssh.com sk-ssh-ed25519-cert-v01@openssh.com ecdsa-sha2-nistp256 ecdsa-sha2-nistp256-cert-v01@openssh.com ecdsa-sha2-nistp384 ecdsa-sha2-nistp384-cert-v01@openssh.com ecdsa-sha2-nistp521 ecdsa-sha2-nistp521-cert-v01@openssh.com sk-ecdsa-sha2-nistp256@openssh.com sk-ecdsa-sha2-nistp256-cert-v01@openssh.com webauthn-sk-ecdsa-sha2-nistp256@openssh.com ssh-dss ssh-dss-cert-v01@openssh.com ssh-rsa ssh-rsa-cert-v01@openssh.com rsa-sha2-256 rsa-sha2-256-cert-v01@openssh.com rsa-sha2-512 rsa-sha2-512-cert-v01@openssh.com".split(
    " ",
  );
const KEY_SHORT = new Set(["rsa", "dsa", "ecdsa", "ed25519", "ecdsa-sk", "ed25519-sk"]);
const GSS_KEX = new Set(
  "gss-gex-sha1- gss-group1-sha1- gss-group14-sha1- gss-group14-sha256- gss-group16-sha512- gss-nistp256-sha256- gss-curve25519-sha256-".split(
    " ",
  ),
);
const LOG_LEVELS = new Set([
  "quiet",
  "fatal",
  "error",
  "info",
  "verbose",
  "debug",
  "debug1",
  "debug2",
  "debug3",
]);
const FACILITIES = new Set([
  "daemon",
  "user",
  "auth",
  "authpriv",
  ...Array.from({ length: 8 }, (_, i) => `local${i}`),
]);
const DIGESTS = new Set(["md5", "sha1", "sha256", "sha384", "sha512"]);
const IPQOS = new Set(
  "af11 af12 af13 af21 af22 af23 af31 af32 af33 af41 af42 af43 cs0 cs1 cs2 cs3 cs4 cs5 cs6 cs7 ef le lowdelay throughput reliability none".split(
    " ",
  ),
);

type Kind =
  | { k: "multi"; values: readonly string[] }
  | { k: "time" | "int" | "port" | "string" | "file" | "strlist" | "command" | "jump" | "consume" }
  | { k: "host" | "match" | "include" }
  | { k: "algos"; set: (name: string) => boolean; what: string }
  | { k: "oneof"; values: ReadonlySet<string>; what: string }
  | { k: "forward"; mode: "local" | "remote" | "dynamic" }
  | { k: "permitremoteopen" | "sendenv" | "setenv" | "escapechar" | "controlpersist" | "tunneldevice" }
  | { k: "ipqos" | "rekeylimit" | "canonicaldomains" | "cnames" | "bindmask" | "addkeystoagent" }
  | { k: "agent" | "forwardagent" | "unsupported" };

interface Spec {
  /** The option this keyword sets (aliases share it). */
  op: string;
  kind: Kind;
}

const multi = (values: readonly string[]): Kind => ({ k: "multi", values });
const flag = multi(MULTI.flag);
const simple = (
  k: "time" | "int" | "port" | "string" | "file" | "strlist" | "command" | "jump" | "consume",
): Kind => ({ k });
const listOf = (set: ReadonlySet<string>) => (n: string) => set.has(n);
function keyTypeValid(p: string): boolean {
  if (KEY_TYPES.includes(p) || KEY_SHORT.has(p.toLowerCase())) return true;
  if (!/[*?]/.test(p)) return false;
  // A wildcard component is accepted when it matches (or excludes) some key type.
  const re = (pat: string) =>
    new RegExp(
      `^${pat
        .replace(/[.+^$()|[\]{}\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
    );
  return KEY_TYPES.some((t) => p.split(",").some((q) => re(q.startsWith("!") ? q.slice(1) : q).test(t)));
}

const TABLE: Array<[string, string, Kind]> = [
  ["protocol", "protocol", simple("consume")],
  ...[
    "cipher",
    "fallbacktorsh",
    "globalknownhostsfile2",
    "rhostsauthentication",
    "userknownhostsfile2",
    "useroaming",
    "usersh",
    "useprivilegedport",
  ].map((n): [string, string, Kind] => [n, "deprecated", simple("consume")]),
  ...[
    "afstokenpassing",
    "kerberosauthentication",
    "kerberostgtpassing",
    "rsaauthentication",
    "rhostsrsaauthentication",
    "compressionlevel",
  ].map((n): [string, string, Kind] => [n, "unsupported", { k: "unsupported" }]),
  ["gssapiauthentication", "gssapiauthentication", flag],
  ["gssapidelegatecredentials", "gssapidelegatecredentials", flag],
  ["gssapikeyexchange", "gssapikeyexchange", flag],
  ["gssapitrustdns", "gssapitrustdns", flag],
  ["gssapirenewalforcesrekey", "gssapirenewalforcesrekey", flag],
  ["gssapiclientidentity", "gssapiclientidentity", simple("string")],
  ["gssapiserveridentity", "gssapiserveridentity", simple("string")],
  [
    "gssapikexalgorithms",
    "gssapikexalgorithms",
    { k: "algos", set: listOf(GSS_KEX), what: "GSSAPI KexAlgorithms" },
  ],
  ["pkcs11provider", "pkcs11provider", simple("string")],
  ["smartcarddevice", "pkcs11provider", simple("string")],
  ["forwardagent", "forwardagent", { k: "forwardagent" }],
  ["forwardx11", "forwardx11", flag],
  ["forwardx11trusted", "forwardx11trusted", flag],
  ["forwardx11timeout", "forwardx11timeout", simple("time")],
  ["exitonforwardfailure", "exitonforwardfailure", flag],
  ["xauthlocation", "xauthlocation", simple("string")],
  ["gatewayports", "gatewayports", flag],
  ["passwordauthentication", "passwordauthentication", flag],
  ["kbdinteractiveauthentication", "kbdinteractiveauthentication", flag],
  ["kbdinteractivedevices", "kbdinteractivedevices", simple("string")],
  ["challengeresponseauthentication", "kbdinteractiveauthentication", flag],
  ["skeyauthentication", "kbdinteractiveauthentication", flag],
  ["tisauthentication", "kbdinteractiveauthentication", flag],
  ["pubkeyauthentication", "pubkeyauthentication", multi(MULTI.pubkeyauth)],
  ["dsaauthentication", "pubkeyauthentication", multi(MULTI.pubkeyauth)],
  ["hostbasedauthentication", "hostbasedauthentication", flag],
  ["identityfile", "identityfile", simple("file")],
  ["identityfile2", "identityfile", simple("file")],
  ["identitiesonly", "identitiesonly", flag],
  ["certificatefile", "certificatefile", simple("file")],
  ["addkeystoagent", "addkeystoagent", { k: "addkeystoagent" }],
  ["identityagent", "identityagent", { k: "agent" }],
  ["hostname", "hostname", simple("string")],
  ["hostkeyalias", "hostkeyalias", simple("string")],
  ["proxycommand", "proxycommand", simple("command")],
  ["port", "port", simple("port")],
  ["ciphers", "ciphers", { k: "algos", set: listOf(CIPHERS), what: "SSH2 cipher spec" }],
  ["macs", "macs", { k: "algos", set: listOf(MACS), what: "SSH2 MAC spec" }],
  ["remoteforward", "remoteforward", { k: "forward", mode: "remote" }],
  ["localforward", "localforward", { k: "forward", mode: "local" }],
  ["permitremoteopen", "permitremoteopen", { k: "permitremoteopen" }],
  ["user", "user", simple("string")],
  ["host", "host", { k: "host" }],
  ["match", "match", { k: "match" }],
  ["escapechar", "escapechar", { k: "escapechar" }],
  ["globalknownhostsfile", "globalknownhostsfile", simple("strlist")],
  ["userknownhostsfile", "userknownhostsfile", simple("strlist")],
  ["connectionattempts", "connectionattempts", simple("int")],
  ["batchmode", "batchmode", flag],
  ["checkhostip", "checkhostip", flag],
  ["stricthostkeychecking", "stricthostkeychecking", multi(MULTI.stricthostkey)],
  ["compression", "compression", multi(MULTI.compression)],
  ["tcpkeepalive", "tcpkeepalive", flag],
  ["keepalive", "tcpkeepalive", flag],
  ["numberofpasswordprompts", "numberofpasswordprompts", simple("int")],
  ["syslogfacility", "syslogfacility", { k: "oneof", values: FACILITIES, what: "log facility" }],
  ["loglevel", "loglevel", { k: "oneof", values: LOG_LEVELS, what: "log level" }],
  ["logverbose", "logverbose", simple("strlist")],
  ["dynamicforward", "dynamicforward", { k: "forward", mode: "dynamic" }],
  ["preferredauthentications", "preferredauthentications", simple("string")],
  ["hostkeyalgorithms", "hostkeyalgorithms", { k: "algos", set: keyTypeValid, what: "key types" }],
  ["casignaturealgorithms", "casignaturealgorithms", { k: "algos", set: keyTypeValid, what: "key types" }],
  ["bindaddress", "bindaddress", simple("string")],
  ["bindinterface", "bindinterface", simple("string")],
  ["clearallforwardings", "clearallforwardings", flag],
  ["enablesshkeysign", "enablesshkeysign", flag],
  ["verifyhostkeydns", "verifyhostkeydns", multi(MULTI.yesnoask)],
  ["nohostauthenticationforlocalhost", "nohostauthenticationforlocalhost", flag],
  ["rekeylimit", "rekeylimit", { k: "rekeylimit" }],
  ["connecttimeout", "connecttimeout", simple("time")],
  ["addressfamily", "addressfamily", multi(MULTI.addressfamily)],
  ["serveraliveinterval", "serveraliveinterval", simple("time")],
  ["protocolkeepalives", "serveraliveinterval", simple("time")],
  ["setuptimeout", "setuptimeout", simple("time")],
  ["serveralivecountmax", "serveralivecountmax", simple("int")],
  ["sendenv", "sendenv", { k: "sendenv" }],
  ["setenv", "setenv", { k: "setenv" }],
  ["controlpath", "controlpath", simple("string")],
  ["controlmaster", "controlmaster", multi(MULTI.controlmaster)],
  ["controlpersist", "controlpersist", { k: "controlpersist" }],
  ["hashknownhosts", "hashknownhosts", flag],
  ["include", "include", { k: "include" }],
  ["tunnel", "tunnel", multi(MULTI.tunnel)],
  ["tunneldevice", "tunneldevice", { k: "tunneldevice" }],
  ["localcommand", "localcommand", simple("command")],
  ["permitlocalcommand", "permitlocalcommand", flag],
  ["remotecommand", "remotecommand", simple("command")],
  ["visualhostkey", "visualhostkey", flag],
  ["kexalgorithms", "kexalgorithms", { k: "algos", set: listOf(KEX), what: "SSH2 KexAlgorithms" }],
  ["ipqos", "ipqos", { k: "ipqos" }],
  ["requesttty", "requesttty", multi(MULTI.requesttty)],
  ["sessiontype", "sessiontype", multi(MULTI.sessiontype)],
  ["stdinnull", "stdinnull", flag],
  ["forkafterauthentication", "forkafterauthentication", flag],
  ["proxyusefdpass", "proxyusefdpass", flag],
  ["canonicaldomains", "canonicaldomains", { k: "canonicaldomains" }],
  ["canonicalizefallbacklocal", "canonicalizefallbacklocal", flag],
  ["canonicalizehostname", "canonicalizehostname", multi(MULTI.canonicalize)],
  ["canonicalizemaxdots", "canonicalizemaxdots", simple("int")],
  ["canonicalizepermittedcnames", "canonicalizepermittedcnames", { k: "cnames" }],
  ["streamlocalbindmask", "streamlocalbindmask", { k: "bindmask" }],
  ["streamlocalbindunlink", "streamlocalbindunlink", flag],
  ["revokedhostkeys", "revokedhostkeys", simple("string")],
  ["fingerprinthash", "fingerprinthash", { k: "oneof", values: DIGESTS, what: "hash algorithm" }],
  ["updatehostkeys", "updatehostkeys", multi(MULTI.yesnoask)],
  [
    "hostbasedacceptedalgorithms",
    "hostbasedacceptedalgorithms",
    { k: "algos", set: keyTypeValid, what: "key types" },
  ],
  ["hostbasedkeytypes", "hostbasedacceptedalgorithms", { k: "algos", set: keyTypeValid, what: "key types" }],
  [
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedalgorithms",
    { k: "algos", set: keyTypeValid, what: "key types" },
  ],
  [
    "pubkeyacceptedkeytypes",
    "pubkeyacceptedalgorithms",
    { k: "algos", set: keyTypeValid, what: "key types" },
  ],
  ["ignoreunknown", "ignoreunknown", simple("string")],
  ["proxyjump", "proxyjump", simple("jump")],
  ["securitykeyprovider", "securitykeyprovider", simple("string")],
  ["knownhostscommand", "knownhostscommand", simple("command")],
  ["requiredrsasize", "requiredrsasize", simple("int")],
  ["enableescapecommandline", "enableescapecommandline", flag],
];

export const KEYWORDS: ReadonlyMap<string, Spec> = new Map(
  TABLE.map(([name, op, kind]) => [name, { op, kind }]),
);

/** A checked value: what a directive sets when its block is active. */
export type Value =
  | { t: "none" }
  | { t: "str"; v: string }
  | { t: "num"; v: number }
  | { t: "list"; v: string[] }
  | { t: "jump"; v: JumpValue };

export type CheckResult = { value: Value } | { error: string };

function firstArg(args: string[], missing = "Missing argument."): { arg: string } | { error: string } {
  const a = args[0];
  if (a === undefined || a === "") return { error: missing };
  return { arg: a };
}

/** The value checks of process_config_line_depth(), for every kind but Host/Match/Include. */
export function checkValue(keyword: string, spec: Spec, args: string[], rest: string): CheckResult {
  const kind = spec.kind;
  let consumed = 1;
  let value: Value = { t: "none" };
  const one = (): string | { error: string } => {
    const f = firstArg(args);
    return "error" in f ? f : f.arg;
  };
  switch (kind.k) {
    case "consume":
    case "unsupported":
      return { value };
    case "multi": {
      const a = args[0];
      if (a === undefined || a === "") return { error: "missing argument." };
      const v = a.toLowerCase();
      if (!kind.values.includes(v)) return { error: `unsupported option "${a}".` };
      value = { t: "str", v };
      break;
    }
    case "time": {
      const a = args[0];
      if (a === undefined || a === "") return { error: "missing time value." };
      if (a === "none") value = { t: "num", v: -1 };
      else {
        const n = convtime(a);
        if (n === -1) return { error: "invalid time value." };
        value = { t: "num", v: n };
      }
      break;
    }
    case "int": {
      const r = atoiErr(args[0]);
      if ("error" in r) return { error: `integer value ${r.error}.` };
      value = { t: "num", v: r.value };
      break;
    }
    case "port": {
      const a = one();
      if (typeof a !== "string") return a;
      const p = a2port(a);
      if (p <= 0) return { error: `Bad port '${a}'.` };
      value = { t: "num", v: p };
      break;
    }
    case "string":
    case "file": {
      const a = one();
      if (typeof a !== "string") return a;
      value = { t: "str", v: a };
      break;
    }
    case "strlist": {
      for (let i = 0; i < args.length; i++) {
        const a = args[i] as string;
        if (a === "") return { error: `keyword ${keyword} empty argument` };
        if (a.toLowerCase() === "none" && (i > 0 || args.length > 1)) {
          return { error: `keyword ${keyword} "none" argument must appear alone.` };
        }
      }
      consumed = args.length;
      value = { t: "list", v: [...args] };
      break;
    }
    case "command":
      consumed = args.length;
      value = { t: "str", v: rawCommand(rest) };
      break;
    case "jump": {
      const raw = rawCommand(rest);
      const j = parseJump(raw);
      if (!j) return { error: `Invalid ProxyJump "${raw}"` };
      consumed = args.length;
      value = { t: "jump", v: j };
      break;
    }
    case "algos": {
      const a = one();
      if (typeof a !== "string") return a;
      const body = a.startsWith("+") || a.startsWith("^") ? a.slice(1) : a;
      if (!a.startsWith("-")) {
        const names = body.split(",");
        if (body === "") return { error: `Bad ${kind.what} '${a}'.` };
        for (const n of names) {
          if (n === "") break;
          if (!kind.set(n)) return { error: `Bad ${kind.what} '${a}'.` };
        }
      }
      value = { t: "str", v: a };
      break;
    }
    case "oneof": {
      const a = args[0];
      if (a === undefined || !kind.values.has(a.toLowerCase())) {
        return { error: `unsupported ${kind.what} '${a ?? "<NONE>"}'` };
      }
      value = { t: "str", v: a };
      break;
    }
    case "forward": {
      const a = args[0];
      if (a === undefined || a === "") return { error: "Missing argument." };
      if (kind.mode !== "dynamic" && args[1] !== undefined && args[1] !== "") consumed = 2;
      else if (kind.mode === "local") return { error: "Missing target argument." };
      break;
    }
    case "permitremoteopen":
    case "sendenv":
    case "setenv":
      for (const a of args) {
        if (kind.k === "sendenv" && (a === "" || a.includes("=")))
          return { error: "Invalid environment name." };
        if (kind.k === "setenv" && !a.includes("=")) return { error: "Invalid SetEnv." };
      }
      if (kind.k === "permitremoteopen" && args.length === 0)
        return { error: "missing permitremoteopen specification" };
      consumed = args.length;
      break;
    case "escapechar": {
      const a = one();
      if (typeof a !== "string") return a;
      const ok =
        a === "none" ||
        a.length === 1 ||
        (a.length === 2 && a[0] === "^" && a.charCodeAt(1) >= 64 && a.charCodeAt(1) < 128);
      if (!ok) return { error: "Bad escape character." };
      break;
    }
    case "controlpersist": {
      const a = firstArg(args, "Missing ControlPersist argument.");
      if ("error" in a) return a;
      if (!["no", "false", "yes", "true"].includes(a.arg) && convtime(a.arg) < 0) {
        return { error: "Bad ControlPersist argument." };
      }
      break;
    }
    case "tunneldevice": {
      const a = one();
      if (typeof a !== "string") return a;
      const ok = (t: string) => t.toLowerCase() === "any" || /^\d+$/.test(t);
      if (!a.split(":", 2).every(ok)) return { error: "Bad tun device." };
      break;
    }
    case "ipqos": {
      const ok = (t: string | undefined) =>
        t !== undefined &&
        (IPQOS.has(t.toLowerCase()) || (/^(0x[0-9a-f]+|\d+)$/i.test(t) && Number(t) <= 255));
      if (!ok(args[0])) return { error: `Bad IPQoS value: ${args[0] ?? "(null)"}` };
      if (args.length > 1) {
        if (!ok(args[1])) return { error: `Bad IPQoS value: ${args[1]}` };
        consumed = 2;
      }
      break;
    }
    case "rekeylimit": {
      const a = one();
      if (typeof a !== "string") return a;
      if (a !== "default" && !/^\d+[KMG]?$/i.test(a)) return { error: `Bad number '${a}'` };
      if (args.length > 1) {
        consumed = 2;
        if (args[1] !== "none" && convtime(args[1] as string) < 0) return { error: "invalid time value." };
      }
      break;
    }
    case "canonicaldomains": {
      for (let i = 0; i < args.length; i++) {
        const a = args[i] as string;
        if (a === "") return { error: `keyword ${keyword} empty argument` };
        if (a.toLowerCase() === "none" && (i > 0 || args.length > 1)) {
          return { error: `keyword ${keyword} "none" argument must appear alone.` };
        }
        const e = domainError(a);
        if (e) return { error: e };
      }
      consumed = args.length;
      value = { t: "list", v: args.map((a) => a.toLowerCase().replace(/\.$/, "")) };
      break;
    }
    case "cnames": {
      for (let i = 0; i < args.length; i++) {
        const a = args[i] as string;
        if (a.toLowerCase() === "none") {
          if (i > 0 || args.length > 1)
            return { error: `keyword ${keyword} "none" argument must appear alone.` };
        } else if (a !== "*") {
          const c = a.indexOf(":");
          if (c < 0 || c === a.length - 1) return { error: `Invalid permitted CNAME "${a.toLowerCase()}"` };
        }
      }
      consumed = args.length;
      value = { t: "list", v: args.map((a) => a.toLowerCase()) };
      break;
    }
    case "bindmask": {
      const a = firstArg(args, "Missing StreamLocalBindMask argument.");
      if ("error" in a) return a;
      const m = /^[0-7]+/.exec(a.arg);
      if (!m || parseInt(m[0], 8) > 0o777) return { error: "Bad mask." };
      break;
    }
    case "addkeystoagent": {
      const [a, b] = args;
      const v = a?.toLowerCase();
      const known = v !== undefined && [...FLAG, "ask", "confirm"].includes(v);
      if (a === undefined || a === "") return { error: "missing argument." };
      if (v === "confirm" && b !== undefined) {
        if (convtime(b) < 0) return { error: "invalid time value." };
      } else if (!known && b === undefined) {
        if (convtime(a) < 0) return { error: "unsupported option" };
      } else if (!known || b !== undefined) {
        return { error: "unsupported option" };
      }
      consumed = b === undefined ? 1 : 2;
      break;
    }
    case "forwardagent":
    case "agent": {
      const a = one();
      if (typeof a !== "string") return a;
      if (kind.k === "forwardagent" && FLAG.includes(a.toLowerCase() as (typeof FLAG)[number])) break;
      if (dollarError(a) !== "") return { error: `Invalid environment expansion ${a}.` };
      if (a[0] === "$" && a[1] !== "{" && !/^[A-Za-z0-9_]+$/.test(a.slice(1))) {
        return { error: `Invalid environment name ${a}.` };
      }
      value = { t: "str", v: a };
      break;
    }
    case "host":
    case "match":
    case "include":
      throw new Error(`checkValue: ${kind.k} is structural`);
  }
  if (args.length > consumed) return { error: `keyword ${keyword} extra arguments at end of line` };
  return { value };
}

/** misc.c dollar_expand() failures: `${` unclosed, `${}`, or an unset variable. */
export function dollarError(s: string): string {
  for (let i = s.indexOf("${"); i >= 0; i = s.indexOf("${", i + 2)) {
    const end = s.indexOf("}", i + 2);
    if (end < 0) return `environment variable '${s.slice(i + 2)}' missing closing '}'`;
    const name = s.slice(i + 2, end);
    if (name === "") return "zero-length environment variable";
    if (process.env[name] === undefined) return `env var \${${name}} has no value`;
    i = end - 1;
  }
  return "";
}

/** readconf.c: ProxyCommand-like keywords skip leading whitespace and `=` of the raw rest. */
function rawCommand(rest: string): string {
  return rest.replace(/^[ \t\r\n=]+/, "");
}
