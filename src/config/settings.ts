/**
 * Settings: every environment variable Scout reads, parsed and validated once.
 *
 * The table below is the single source of truth: `loadSettings` reads it, `scout-mcp config`
 * prints it with where each value came from, and the README's configuration table mirrors it.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export type StrictHostKeyChecking = "true" | "accept-new" | "false";
export type TransportKind = "http" | "stdio";

export interface Settings {
  sshConfigPath: string;
  /** System-wide ssh_config read after the user's; undefined: none. */
  systemSshConfigPath: string | undefined;
  /** Run `Match exec` commands of the ssh config. */
  matchExec: boolean;
  /** Milliseconds one `Match exec` command may run. */
  matchExecTimeoutMs: number;
  knownHostsPath: string;
  strictHostKeyChecking: StrictHostKeyChecking;
  allowHosts: string[];
  denyHosts: string[];
  maxPoolSize: number;
  /** SCOUT_WARM_HOSTS: host patterns (ssh pattern list, `@group`s) kept connected from start-up. */
  warmHosts: string[];
  /** Past this many hosts, the hosts answer counts online hosts by name instead of listing them. */
  hostsListMax: number;
  /** Broadcast targets running at once (each may need its own connection and handshake). */
  broadcastConcurrency: number;
  /** SCOUT_HOST_GROUPS: named host pattern lists usable as `@name` in targets and patterns. */
  hostGroups: Record<string, string[]>;
  maxChannelsPerConnection: number;
  maxConnectionsPerHost: number;
  /** Milliseconds. */
  connectTimeoutMs: number;
  /** Milliseconds. */
  idleTimeoutMs: number;
  /** Milliseconds between SSH keepalive probes; 0 disables. */
  keepaliveIntervalMs: number;
  /** Milliseconds: bounds of the reply deadlines derived from a connection's RTT. */
  rttDeadlineMinMs: number;
  rttDeadlineMaxMs: number;
  /** Milliseconds: a read pipelines its SFTP requests on connections whose RTT is at least this. */
  pipelineMinRttMs: number;
  /**
   * Milliseconds: a read of a path its SFTP session has not seen sends the open together with the
   * stat on connections whose lowest RTT is at least this.
   */
  openAheadMinRttMs: number;
  maxFileSize: number;
  maxOutputSize: number;
  /** Milliseconds. */
  commandTimeoutMs: number;
  transport: TransportKind;
  httpHost: string;
  httpPort: number;
  /** Milliseconds; 0 disables the host status cache. */
  statusCacheTtlMs: number;
  /** Directory that confines the local side of `beam` over HTTP; undefined refuses it. */
  beamDir: string | undefined;
  logLevel: string;
  /** Milliseconds; calls slower than this are logged at warn. */
  slowThresholdMs: number;
  apiKeys: string[];
  allowedOrigins: string[];
  maxConcurrentRequests: number;
  maxQueuedRequests: number;
  /** 0 disables rate limiting. */
  rateLimitPerMinute: number;
  /** Milliseconds: end-to-end deadline of one tool call. */
  requestTimeoutMs: number;
  readOnly: boolean;
  policyFile: string | undefined;
  auditLog: string | undefined;
  /** Port for /metrics when serving stdio (undefined: not exposed). */
  metricsPort: number | undefined;
  /** Reply to HTTP tool calls with plain JSON instead of an SSE stream. */
  httpJsonResponse: boolean;
  /** Milliseconds an HTTP session may stay idle before it is closed; 0 never expires. */
  sessionIdleTimeoutMs: number;
  /** Live HTTP sessions per client (API key, else remote address); 0 is no cap. */
  maxSessionsPerClient: number;
  /** Bytes of one encoded JSON-RPC answer (results are cut to fit, with a marker). */
  maxMessageSize: number;
  /** resource_link blocks (scout:// URIs) per listing or find answer; 0: none. */
  maxResourceLinks: number;
  /** Ask the user (MCP elicitation) before every command and upload; fail closed. */
  confirmCommands: boolean;
  /** How long a confirmation question waits for its human (ms); the call's deadline starts after. */
  confirmTimeoutMs: number;
  /** HMAC key for 2026-07-28 requestState (confirmations); share it across Scout processes. */
  requestStateKey: string | undefined;
  /** File holding the password fed to `sudo -S` on stdin for `sudo=true` calls. */
  sudoPasswordFile: string | undefined;
  /** Seconds a finished job's spool stays on its host; 0 keeps them. */
  jobRetentionS: number;
  /** Bytes of output a job's spool keeps (stdout and stderr together). */
  jobSpoolCap: number;
  /** Milliseconds between a cancel's TERM and its KILL. */
  jobCancelGraceMs: number;
  /**
   * Milliseconds a command started as a job is waited for before the call answers with its handle
   * (or a task); 0: commands run in the foreground (SCOUT_JOB_AFTER).
   */
  jobAfterMs: number;
  /** Resource subscriptions (file watches) the whole server runs at most. */
  maxWatches: number;
  /** Resource subscriptions one client (API key or address) holds at most. */
  maxWatchesPerClient: number;
}

export type SettingSource = "default" | { env: string };

export interface SettingSpec<K extends keyof Settings = keyof Settings> {
  key: K;
  env: string;
  /** Older names accepted for compatibility with the Python Scout. */
  aliases?: string[];
  description: string;
  /** Human-readable default for docs and `scout-mcp config`. */
  defaultText: string;
  parse: (raw: string | undefined, name: string) => Settings[K];
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

function positiveNumber(def: number, opts: { integer?: boolean; allowZero?: boolean; scale?: number } = {}) {
  return (raw: string | undefined, name: string): number => {
    const scale = opts.scale ?? 1;
    if (raw === undefined || raw.trim() === "") return def * scale;
    const value = Number(raw.trim());
    const ok =
      Number.isFinite(value) &&
      (opts.allowZero ? value >= 0 : value > 0) &&
      (!opts.integer || Number.isInteger(value));
    if (!ok) {
      const kind = opts.integer ? "integer" : "number";
      throw new SettingsError(
        `${name}=${JSON.stringify(raw)} is not a valid ${opts.allowZero ? "non-negative" : "positive"} ${kind}`,
      );
    }
    return Math.round(value * scale);
  };
}

function pathSetting(def: () => string) {
  return (raw: string | undefined): string => expandHome(raw && raw.trim() !== "" ? raw.trim() : def());
}

function list(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** `name=pat,pat;name2=pat`: group names are letters, digits, `.`, `_`, `-`. */
function hostGroups(raw: string | undefined, name: string): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const part of (raw ?? "").split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const group = part.slice(0, eq).trim();
    const patterns = list(part.slice(eq + 1));
    if (eq < 0 || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(group) || patterns.length === 0) {
      throw new SettingsError(
        `${name}: ${JSON.stringify(part.trim())} is not a group; write NAME=PATTERN[,PATTERN…] (groups separated by ';')`,
      );
    }
    if (Object.hasOwn(groups, group)) throw new SettingsError(`${name}: group '${group}' is defined twice`);
    groups[group] = patterns;
  }
  return groups;
}

function oneOf<T extends string>(values: readonly T[], def: T, normalize?: (s: string) => string) {
  return (raw: string | undefined, name: string): T => {
    if (raw === undefined || raw.trim() === "") return def;
    const v = normalize ? normalize(raw.trim()) : raw.trim();
    if ((values as readonly string[]).includes(v)) return v as T;
    throw new SettingsError(`${name}=${JSON.stringify(raw)} must be one of: ${values.join(", ")}`);
  };
}

export function expandHome(p: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return p;
}

function strictness(raw: string | undefined, name: string): StrictHostKeyChecking {
  if (raw === undefined || raw.trim() === "") return "true";
  const v = raw.trim().toLowerCase();
  if (["true", "yes", "1", "on"].includes(v)) return "true";
  if (["false", "no", "0", "off"].includes(v)) return "false";
  if (v === "accept-new") return "accept-new";
  throw new SettingsError(`${name}=${JSON.stringify(raw)} must be true, accept-new or false`);
}

function bool(def: boolean) {
  return (raw: string | undefined, name: string): boolean => {
    if (raw === undefined || raw.trim() === "") return def;
    const v = raw.trim().toLowerCase();
    if (["true", "yes", "1", "on"].includes(v)) return true;
    if (["false", "no", "0", "off"].includes(v)) return false;
    throw new SettingsError(`${name}=${JSON.stringify(raw)} must be true or false`);
  };
}

/** Seconds, as a number or with a unit: 90, 30m, 12h, 7d. */
function duration(def: number) {
  return (raw: string | undefined, name: string): number => {
    if (raw === undefined || raw.trim() === "") return def;
    const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/i.exec(raw.trim());
    if (!m)
      throw new SettingsError(`${name}=${JSON.stringify(raw)} is not a duration (e.g. 3600, 30m, 12h, 7d)`);
    const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]!.toLowerCase() as "" | "s" | "m" | "h" | "d"];
    return Math.round(Number(m[1]) * unit);
  };
}

function optionalPath(raw: string | undefined): string | undefined {
  return raw && raw.trim() !== "" ? expandHome(raw.trim()) : undefined;
}

export const SETTING_SPECS: readonly SettingSpec[] = [
  {
    key: "sshConfigPath",
    env: "SCOUT_SSH_CONFIG",
    description: "ssh_config file that lists the hosts (Include, Host patterns, ProxyJump honored)",
    defaultText: "~/.ssh/config",
    parse: pathSetting(() => "~/.ssh/config"),
  },
  {
    key: "systemSshConfigPath",
    env: "SCOUT_SSH_SYSTEM_CONFIG",
    description:
      "System-wide ssh_config read after SCOUT_SSH_CONFIG, as ssh reads it (first value wins); 'none' skips it",
    defaultText: "/etc/ssh/ssh_config",
    parse: (raw) => {
      const v = raw?.trim();
      if (v === undefined || v === "") return "/etc/ssh/ssh_config";
      return v.toLowerCase() === "none" ? undefined : expandHome(v);
    },
  },
  {
    key: "matchExec",
    env: "SCOUT_MATCH_EXEC",
    description:
      "Run the ssh config's `Match exec` commands as ssh does (sh -c, exit 0 matches); off: they never match (warned)",
    defaultText: "on",
    parse: bool(true),
  },
  {
    key: "matchExecTimeoutMs",
    env: "SCOUT_MATCH_EXEC_TIMEOUT",
    description: "Seconds one `Match exec` command may run; past it the host is refused with a config error",
    defaultText: "10",
    parse: positiveNumber(10, { scale: 1000 }),
  },
  {
    key: "knownHostsPath",
    env: "SCOUT_KNOWN_HOSTS",
    description: "known_hosts file used to verify host keys (hashed entries and [host]:port supported)",
    defaultText: "~/.ssh/known_hosts",
    parse: pathSetting(() => "~/.ssh/known_hosts"),
  },
  {
    key: "strictHostKeyChecking",
    env: "SCOUT_STRICT_HOST_KEY_CHECKING",
    description:
      "true: refuse unknown or changed keys; accept-new: trust on first use, refuse changed; false: warn only",
    defaultText: "true",
    parse: strictness,
  },
  {
    key: "allowHosts",
    env: "SCOUT_ALLOW_HOSTS",
    aliases: ["SCOUT_ALLOWLIST"],
    description: "Comma-separated glob patterns; when set, only matching host aliases are served",
    defaultText: "(all)",
    parse: (raw) => list(raw),
  },
  {
    key: "denyHosts",
    env: "SCOUT_DENY_HOSTS",
    aliases: ["SCOUT_BLOCKLIST"],
    description: "Comma-separated glob patterns of host aliases never served (wins over allow)",
    defaultText: "(none)",
    parse: (raw) => list(raw),
  },
  {
    key: "maxPoolSize",
    env: "SCOUT_MAX_POOL_SIZE",
    description: "Strict cap on open SSH connections across all hosts",
    defaultText: "100",
    parse: positiveNumber(100, { integer: true }),
  },
  {
    key: "warmHosts",
    env: "SCOUT_WARM_HOSTS",
    description:
      "Comma-separated host patterns (`*`, `?`, `!neg`, `@group`) connected at start-up and kept warm within SCOUT_MAX_POOL_SIZE",
    defaultText: "(none)",
    parse: (raw) => list(raw),
  },
  {
    key: "hostsListMax",
    env: "SCOUT_HOSTS_LIST_MAX",
    description:
      "Hosts listed one by one in scout('hosts') and hosts://list; past it offline hosts are listed and online ones counted by name",
    defaultText: "200",
    parse: positiveNumber(200, { integer: true }),
  },
  {
    key: "broadcastConcurrency",
    env: "SCOUT_BROADCAST_CONCURRENCY",
    description: "Targets of one broadcast (`targets=[…]`) running at once; the rest wait their turn",
    defaultText: "32",
    parse: positiveNumber(32, { integer: true }),
  },
  {
    key: "hostGroups",
    env: "SCOUT_HOST_GROUPS",
    description:
      "Named host groups for targets (`@web:/etc/x`, `hosts:@web`): `web=web-*,!web-old;db=db-?` (patterns as in ssh_config Host lines)",
    defaultText: "(none)",
    parse: hostGroups,
  },
  {
    key: "maxChannelsPerConnection",
    env: "SCOUT_MAX_CHANNELS_PER_CONNECTION",
    description: "Concurrent channels per connection (keep under sshd MaxSessions, default 10)",
    defaultText: "8",
    parse: positiveNumber(8, { integer: true }),
  },
  {
    key: "maxConnectionsPerHost",
    env: "SCOUT_MAX_CONNECTIONS_PER_HOST",
    description: "Connections opened to one host when all channels are busy",
    defaultText: "4",
    parse: positiveNumber(4, { integer: true }),
  },
  {
    key: "connectTimeoutMs",
    env: "SCOUT_CONNECT_TIMEOUT",
    description: "Seconds for TCP connect + SSH handshake + authentication",
    defaultText: "10",
    parse: positiveNumber(10, { scale: 1000 }),
  },
  {
    key: "idleTimeoutMs",
    env: "SCOUT_IDLE_TIMEOUT",
    aliases: ["MCP_CAT_IDLE_TIMEOUT"],
    description: "Seconds an unused connection stays open",
    defaultText: "60",
    parse: positiveNumber(60, { scale: 1000 }),
  },
  {
    key: "keepaliveIntervalMs",
    env: "SCOUT_KEEPALIVE_INTERVAL",
    description: "Seconds between SSH keepalives on open connections (0 disables); 3 missed = dead",
    defaultText: "15",
    parse: positiveNumber(15, { scale: 1000, allowZero: true }),
  },
  {
    key: "rttDeadlineMinMs",
    env: "SCOUT_RTT_DEADLINE_MIN",
    description:
      "Seconds: least time a keepalive or overdue SFTP reply is waited for (the deadline is 4 RTOs of the connection's measured RTT, within MIN..MAX)",
    defaultText: "1",
    parse: positiveNumber(1, { scale: 1000 }),
  },
  {
    key: "rttDeadlineMaxMs",
    env: "SCOUT_RTT_DEADLINE_MAX",
    description:
      "Seconds: most time a keepalive reply is waited for, and the deadline before any RTT is measured",
    defaultText: "30",
    parse: positiveNumber(30, { scale: 1000 }),
  },
  {
    key: "pipelineMinRttMs",
    env: "SCOUT_PIPELINE_MIN_RTT",
    description:
      "Milliseconds: a read sends its SFTP requests together only on connections whose lowest RTT is at least this; 0 (default) = always. Set it (e.g. 2) for SSH servers that leave Nagle on for SFTP",
    defaultText: "0",
    parse: positiveNumber(0, { allowZero: true }),
  },
  {
    key: "openAheadMinRttMs",
    env: "SCOUT_OPEN_AHEAD_MIN_RTT",
    description:
      "Milliseconds: the first read of a path sends its SFTP open together with the stat (saving a round trip) on connections whose lowest RTT is at least this (never for root logins or paths under /dev, /proc, /sys; a FIFO found this way is unblocked or its session given up). 0 = on every connection; above any RTT (e.g. 100000) = never",
    defaultText: "10",
    parse: positiveNumber(10, { allowZero: true }),
  },
  {
    key: "maxFileSize",
    env: "SCOUT_MAX_FILE_SIZE",
    aliases: ["MCP_CAT_MAX_FILE_SIZE"],
    description: "Bytes returned from a file read before it is cut (marked as truncated)",
    defaultText: "1048576",
    parse: positiveNumber(1048576, { integer: true }),
  },
  {
    key: "maxOutputSize",
    env: "SCOUT_MAX_OUTPUT_SIZE",
    description: "Bytes of listing/tree/find output, and of command stdout and stderr each",
    defaultText: "1048576",
    parse: positiveNumber(1048576, { integer: true }),
  },
  {
    key: "commandTimeoutMs",
    env: "SCOUT_COMMAND_TIMEOUT",
    aliases: ["MCP_CAT_COMMAND_TIMEOUT"],
    description: "Seconds a command may run before its process group is killed",
    defaultText: "30",
    parse: positiveNumber(30, { scale: 1000 }),
  },
  {
    key: "transport",
    env: "SCOUT_TRANSPORT",
    description: "http (Streamable HTTP) or stdio",
    defaultText: "http",
    parse: oneOf(["http", "stdio"] as const, "http", (s) => s.toLowerCase()),
  },
  {
    key: "httpHost",
    env: "SCOUT_HTTP_HOST",
    description: "Address the HTTP transport binds (loopback unless you ask otherwise)",
    defaultText: "127.0.0.1",
    parse: (raw) => (raw && raw.trim() !== "" ? raw.trim() : "127.0.0.1"),
  },
  {
    key: "httpPort",
    env: "SCOUT_HTTP_PORT",
    description: "Port of the HTTP transport (0 picks a free port)",
    defaultText: "8000",
    parse: (raw, name) => {
      if (raw === undefined || raw.trim() === "") return 8000;
      const n = Number(raw.trim());
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SettingsError(`${name}=${raw} is not a port`);
      return n;
    },
  },
  {
    key: "statusCacheTtlMs",
    env: "SCOUT_STATUS_CACHE_TTL",
    description: "Seconds a host's online/offline probe result is reused (0 disables)",
    defaultText: "30",
    parse: positiveNumber(30, { scale: 1000, allowZero: true }),
  },
  {
    key: "beamDir",
    env: "SCOUT_BEAM_DIR",
    description: "Local directory that confines beam transfers over HTTP (unset: refused over HTTP)",
    defaultText: "(unset)",
    parse: (raw) => (raw && raw.trim() !== "" ? expandHome(raw.trim()) : undefined),
  },
  {
    key: "logLevel",
    env: "SCOUT_LOG_LEVEL",
    description: "trace, debug, info, warn, error or silent",
    defaultText: "info",
    parse: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, "info", (s) =>
      s.toLowerCase(),
    ),
  },
  {
    key: "slowThresholdMs",
    env: "SCOUT_SLOW_THRESHOLD_MS",
    description: "Calls slower than this many milliseconds are logged at warn",
    defaultText: "1000",
    parse: positiveNumber(1000, { integer: true }),
  },
  {
    key: "apiKeys",
    env: "SCOUT_API_KEYS",
    description: "Comma-separated API keys; when set, HTTP needs Authorization: Bearer KEY or X-API-Key",
    defaultText: "(none: no auth)",
    parse: (raw) => list(raw),
  },
  {
    key: "allowedOrigins",
    env: "SCOUT_ALLOWED_ORIGINS",
    description: "Comma-separated extra Origins allowed on HTTP (loopback origins always are)",
    defaultText: "(loopback only)",
    parse: (raw) => list(raw),
  },
  {
    key: "maxConcurrentRequests",
    env: "SCOUT_MAX_CONCURRENT_REQUESTS",
    description: "Tool calls and resource reads running at once; more wait in a queue",
    defaultText: "100",
    parse: positiveNumber(100, { integer: true }),
  },
  {
    key: "maxQueuedRequests",
    env: "SCOUT_MAX_QUEUED_REQUESTS",
    description:
      "Calls allowed to wait for a slot (and, apart, calls waiting for their user's confirmation); past that a call gets 'Error: server busy' at once",
    defaultText: "1000",
    parse: positiveNumber(1000, { integer: true, allowZero: true }),
  },
  {
    key: "rateLimitPerMinute",
    env: "SCOUT_RATE_LIMIT_PER_MINUTE",
    description: "Calls per minute per client (API key, else address; stdio is one client); 0 = off",
    defaultText: "0",
    parse: positiveNumber(0, { integer: true, allowZero: true }),
  },
  {
    key: "requestTimeoutMs",
    env: "SCOUT_REQUEST_TIMEOUT",
    description: "Seconds one call may take end to end; then all it started is stopped",
    defaultText: "60",
    parse: positiveNumber(60, { scale: 1000 }),
  },
  {
    key: "readOnly",
    env: "SCOUT_READ_ONLY",
    description: "true refuses commands, uploads and remote-to-remote writes",
    defaultText: "false",
    parse: bool(false),
  },
  {
    key: "policyFile",
    env: "SCOUT_POLICY_FILE",
    description: "YAML/JSON file with per-host allow/deny globs for commands and paths",
    defaultText: "(none)",
    parse: optionalPath,
  },
  {
    key: "auditLog",
    env: "SCOUT_AUDIT_LOG",
    description: "JSON Lines file receiving one record per call (append-only)",
    defaultText: "(off)",
    parse: optionalPath,
  },
  {
    key: "metricsPort",
    env: "SCOUT_METRICS_PORT",
    description: "Serve /metrics on 127.0.0.1:PORT when the transport is stdio",
    defaultText: "(off)",
    parse: (raw, name) => {
      if (raw === undefined || raw.trim() === "") return undefined;
      const n = Number(raw.trim());
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SettingsError(`${name}=${raw} is not a port`);
      return n;
    },
  },
  {
    key: "httpJsonResponse",
    env: "SCOUT_HTTP_JSON_RESPONSE",
    description: "Answer HTTP tool calls with plain JSON instead of SSE (progress can't stream then)",
    defaultText: "false",
    parse: bool(false),
  },
  {
    key: "sessionIdleTimeoutMs",
    env: "SCOUT_SESSION_IDLE_TIMEOUT",
    description:
      "Seconds an HTTP session with no request and no open stream lives before it is closed (0: never)",
    defaultText: "1800",
    parse: positiveNumber(1800, { scale: 1000, allowZero: true }),
  },
  {
    key: "maxSessionsPerClient",
    env: "SCOUT_MAX_SESSIONS_PER_CLIENT",
    description:
      "Live HTTP sessions per client (API key, else remote address); a new one closes its idlest (0: no cap). Also caps its open 2026-07-28 listen streams",
    defaultText: "64",
    parse: positiveNumber(64, { integer: true, allowZero: true }),
  },
  {
    key: "maxMessageSize",
    env: "SCOUT_MAX_MESSAGE_SIZE",
    description:
      "Bytes of one encoded answer (JSON-RPC message); longer results are cut with a marker (clients refuse > 1 MiB)",
    defaultText: "1015808",
    parse: positiveNumber(1015808, { integer: true }),
  },
  {
    key: "maxResourceLinks",
    env: "SCOUT_RESOURCE_LINKS",
    description:
      "resource_link blocks (scout:// URIs) added to a directory listing, tree or find answer, after its text (the rest are in the text only); 0: none",
    defaultText: "20",
    parse: positiveNumber(20, { integer: true, allowZero: true }),
  },
  {
    key: "confirmCommands",
    env: "SCOUT_CONFIRM_COMMANDS",
    description:
      "Ask the user through MCP elicitation before each command or upload (refused if the client can't)",
    defaultText: "false",
    parse: bool(false),
  },
  {
    key: "confirmTimeoutMs",
    env: "SCOUT_CONFIRM_TIMEOUT",
    description:
      "Seconds a confirmation question waits for the user; the call's own deadline starts after the answer",
    defaultText: "300",
    parse: positiveNumber(300, { scale: 1000 }),
  },
  {
    key: "requestStateKey",
    env: "SCOUT_REQUEST_STATE_KEY",
    description:
      "Secret (≥ 32 characters) signing 2026-07-28 confirmation state so any Scout process sharing it can continue a call",
    defaultText: "(random per process)",
    parse: (raw, name) => {
      if (raw === undefined || raw === "") return undefined;
      if (raw.length < 32)
        throw new SettingsError(`${name} must be at least 32 characters (a shared secret)`);
      return raw;
    },
  },
  {
    key: "sudoPasswordFile",
    env: "SCOUT_SUDO_PASSWORD_FILE",
    description:
      "File with the password fed to sudo -S over stdin for sudo=true (policy file may set one per host)",
    defaultText: "(none: sudo -n)",
    parse: optionalPath,
  },
  {
    key: "jobRetentionS",
    env: "SCOUT_JOB_RETENTION",
    description:
      "How long a finished background job stays on its host (seconds, or 30m, 12h, 7d); 0 = forever",
    defaultText: "7d",
    parse: duration(7 * 86400),
  },
  {
    key: "jobSpoolCap",
    env: "SCOUT_JOB_SPOOL_CAP",
    description: "Bytes of output a background job keeps on its host; beyond it output is counted, not kept",
    defaultText: "67108864",
    parse: positiveNumber(64 * 1024 * 1024, { integer: true }),
  },
  {
    key: "jobCancelGraceMs",
    env: "SCOUT_JOB_CANCEL_GRACE",
    description: "Seconds a cancelled job's process group gets between TERM and KILL",
    defaultText: "5",
    parse: positiveNumber(5, { scale: 1000 }),
  },
  {
    key: "jobAfterMs",
    env: "SCOUT_JOB_AFTER",
    description:
      "Seconds: start every query as a background job and answer inline if it ends within this, else with its handle (a task for task-capable clients); 0 = off",
    defaultText: "0",
    parse: positiveNumber(0, { scale: 1000, allowZero: true }),
  },
  {
    key: "maxWatches",
    env: "SCOUT_MAX_WATCHES",
    description:
      "Watched files (resources/subscribe, listen resourceSubscriptions; polled over SFTP) the whole server runs at most",
    defaultText: "256",
    parse: positiveNumber(256, { integer: true }),
  },
  {
    key: "maxWatchesPerClient",
    env: "SCOUT_MAX_WATCHES_PER_CLIENT",
    description:
      "Watched files one client (API key, else address; stdio is one) holds at most, across its sessions and listen streams",
    defaultText: "16",
    parse: positiveNumber(16, { integer: true }),
  },
];

export interface LoadedSettings {
  settings: Settings;
  sources: Record<keyof Settings, SettingSource>;
}

/** Reads every setting from `env`; throws SettingsError naming the variable on bad input. */
export function loadSettingsWithSources(env: NodeJS.ProcessEnv = process.env): LoadedSettings {
  const settings: Partial<Record<keyof Settings, unknown>> = {};
  const sources: Partial<Record<keyof Settings, SettingSource>> = {};
  for (const spec of SETTING_SPECS) {
    const name = [spec.env, ...(spec.aliases ?? [])].find((n) => env[n] !== undefined && env[n] !== "");
    const raw = name ? env[name] : undefined;
    settings[spec.key] = spec.parse(raw, name ?? spec.env);
    sources[spec.key] = name ? { env: name } : "default";
  }
  return {
    settings: settings as Settings,
    sources: sources as Record<keyof Settings, SettingSource>,
  };
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return loadSettingsWithSources(env).settings;
}

/** Settings with defaults, overridden by `overrides`: handy for tests and embedding. */
export function settingsWith(overrides: Partial<Settings> = {}): Settings {
  return { ...loadSettings({}), ...overrides };
}
