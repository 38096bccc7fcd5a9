/**
 * The text layouts of the answers, kept compatible with the Python Scout (hosts list, command
 * results, truncation marker, broadcast blocks, diff and transfer lines), with its defects fixed.
 * Pure functions of plain data.
 */
import { ScoutError } from "../errors.js";

export interface HostRow {
  alias: string;
  user: string;
  hostname: string;
  port: number;
  online: boolean;
  /** Why the host can never connect (e.g. a ProxyJump loop), shown instead of leaving it a mystery. */
  configError?: string;
}

/** The registry's order (localeCompare), with one collator instead of one per comparison: 20× faster. */
const collator = new Intl.Collator();
const byAlias = (a: HostRow, b: HostRow): number => collator.compare(a.alias, b.alias);

const configNote = (h: HostRow): string => (h.configError ? ` [config error: ${h.configError}]` : "");

const hostLine = (h: HostRow): string =>
  `  [${h.online ? "✓" : "✗"}] ${h.alias} (${h.online ? "online" : "offline"}) -> ${h.user}@${h.hostname}:${h.port}${configNote(h)}`;

/**
 * The hosts list. Past `maxListed` hosts (a fleet of thousands) the online hosts are counted by
 * name prefix instead of listed one by one; offline hosts (the actionable ones) are still listed,
 * up to `maxListed`. Every line a host gets keeps the Python Scout's layout.
 */
export function formatHostsList(hosts: HostRow[], maxListed = Infinity): string {
  if (hosts.length === 0) return "No SSH hosts configured.";
  const rows = [...hosts].sort(byAlias);
  if (rows.length <= maxListed) return ["Available hosts:", ...rows.map(hostLine)].join("\n");
  const summary = summarizeHosts(rows, maxListed);
  const out = [
    `Available hosts: ${rows.length} (${summary.online} online, ${rows.length - summary.online} offline); ` +
      `more than ${maxListed}, so online hosts are counted by name, not listed. ` +
      `List a subset with scout("hosts:PATTERN"), e.g. hosts:${summary.prefixes[0]?.prefix ?? "web-"}*`,
  ];
  if (summary.offline.length > 0) out.push(...summary.offline.map(hostLine));
  if (summary.offlineOmitted > 0) out.push(`  … and ${summary.offlineOmitted} more offline hosts`);
  out.push("Online, by name:");
  for (const p of summary.prefixes) out.push(`  [✓] ${p.prefix}* : ${p.count} online`);
  if (summary.prefixesOmitted > 0) out.push(`  … and ${summary.prefixesOmitted} more name prefixes`);
  return out.join("\n");
}

export interface HostsSummary {
  online: number;
  /** Offline hosts, at most `maxListed`. */
  offline: HostRow[];
  offlineOmitted: number;
  /** Online hosts counted by their name up to the first digit (`web-0042` → `web-`). */
  prefixes: Array<{ prefix: string; count: number }>;
  prefixesOmitted: number;
}

/** Counts for a hosts list too long to show line by line (see formatHostsList). */
export function summarizeHosts(rows: HostRow[], maxListed: number): HostsSummary {
  const offline: HostRow[] = [];
  let offlineCount = 0;
  let online = 0;
  const prefixes = new Map<string, number>();
  for (const h of rows) {
    if (!h.online) {
      if (offline.length < maxListed) offline.push(h);
      offlineCount++;
      continue;
    }
    online++;
    const prefix = /^[^0-9]*/.exec(h.alias)?.[0] ?? "";
    prefixes.set(prefix, (prefixes.get(prefix) ?? 0) + 1);
  }
  const sorted = [...prefixes]
    .map(([prefix, count]) => ({ prefix, count }))
    .sort((a, b) => b.count - a.count);
  const shown = sorted.slice(0, 50);
  return {
    online,
    offline,
    offlineOmitted: offlineCount - offline.length,
    prefixes: shown,
    prefixesOmitted: sorted.length - shown.length,
  };
}

export function formatHostsResource(hosts: HostRow[], maxListed = Infinity): string {
  const out = ["Available SSH Hosts", "=".repeat(40), ""];
  const rows = [...hosts].sort(byAlias);
  if (rows.length > maxListed) {
    // A fleet of thousands: nine lines per host would be megabytes. The URI forms once instead.
    out.push(formatHostsList(rows, maxListed), "");
    out.push(
      "Every host's resources: {host}://path/to/file, {host}://docker, {host}://compose, {host}://zfs,",
    );
    out.push("{host}://syslog, and scout://{host}/path/to/file.", "");
  }
  for (const h of rows.length > maxListed ? [] : rows) {
    const n = h.alias;
    out.push(
      `[${h.online ? "✓" : "✗"}] ${n} (${h.online ? "online" : "offline"})${configNote(h)}`,
      `    SSH:      ${h.user}@${h.hostname}:${h.port}`,
      `    Files:    ${n}://path/to/file`,
      `    Docker:   ${n}://docker/{container}/logs`,
      `    Compose:  ${n}://compose/{project}/logs`,
      `    ZFS:      ${n}://zfs`,
      `    Syslog:   ${n}://syslog`,
      `    Generic:  scout://${n}/path/to/file`,
      "",
    );
  }
  out.push("Usage Examples:", "-".repeat(40));
  for (const h of rows.slice(0, 2)) {
    const n = h.alias;
    out.push(
      `  ${n}://etc/hosts`,
      `  ${n}://var/log/syslog`,
      `  ${n}://docker`,
      `  ${n}://docker/{container}/logs`,
      `  ${n}://compose`,
      `  ${n}://compose/{project}`,
      `  ${n}://compose/{project}/logs`,
      `  ${n}://zfs`,
      `  ${n}://syslog`,
      `  scout://${n}/etc/hosts`,
    );
  }
  out.push("", "Both URI formats work identically.");
  return out.join("\n");
}

export interface CommandText {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timeoutMs: number;
  maxOutputSize: number;
}

/**
 * stdout, then `[stderr]` + stderr, then `[exit code: N]` when N ≠ 0, joined with newlines, or
 * `(no output)`; our notes (caps, timeout, signal) follow on their own lines. Outputs are shown
 * as the command printed them, except that one trailing newline is dropped so that parts join
 * cleanly.
 */
export function formatCommandResult(r: CommandText): string {
  const parts: string[] = [];
  const stdout = r.stdout.replace(/\n$/, "");
  const stderr = r.stderr.replace(/\n$/, "");
  if (stdout) parts.push(stdout);
  if (r.stdoutTruncated) parts.push(`[stdout truncated at ${r.maxOutputSize} bytes]`);
  if (stderr) parts.push(`[stderr]\n${stderr}`);
  if (r.stderrTruncated) parts.push(`[stderr truncated at ${r.maxOutputSize} bytes]`);
  if (r.timedOut) parts.push(`[timed out after ${r.timeoutMs / 1000} s: process group killed]`);
  else if (r.exitCode !== null && r.exitCode !== 0) parts.push(`[exit code: ${r.exitCode}]`);
  else if (r.exitCode === null && r.signal) parts.push(`[killed by signal ${r.signal}]`);
  return parts.length ? parts.join("\n") : "(no output)";
}

export interface FileText {
  path: string;
  content: string;
  truncated: boolean;
  binary: boolean;
  size: number;
  maxFileSize: number;
}

export function formatFileContent(r: FileText): string {
  if (r.binary) {
    return `Binary file ${r.path} (${r.size} bytes): not shown as text. Download it with beam, or inspect it with query="xxd ${r.path} | head".`;
  }
  return r.truncated ? `${r.content}\n\n[truncated at ${r.maxFileSize} bytes]` : r.content;
}

export interface RangeText {
  path: string;
  content: string;
  binary: boolean;
  size: number;
  truncated: boolean;
  range?: { offset: number; length: number };
  tailLines?: number;
}

/** Tail and byte-range reads: a one-line header with the file size so that an agent can page. */
export function formatRange(r: RangeText): string {
  if (r.binary) return formatFileContent({ ...r, maxFileSize: 0 });
  const header =
    r.tailLines !== undefined
      ? `[last ${r.tailLines} lines of ${r.path}, file size ${r.size} bytes${r.truncated ? ", cut at the size cap" : ""}]`
      : `[${r.path}: bytes ${r.range?.offset ?? 0}-${(r.range?.offset ?? 0) + (r.range?.length ?? 0)} of ${r.size}${r.truncated ? ", cut at the size cap" : ""}]`;
  return `${header}\n${r.content}`;
}

export interface BroadcastBlock {
  host: string;
  path: string;
  ok: boolean;
  output: string;
  /** The block's output is an error message (gets the `Error: ` prefix). */
  error?: boolean;
  /**
   * Set when only a prefix of the output was kept (a broadcast to many hosts bounds its memory):
   * the size of the whole output in bytes. The block is then shown as a summary line.
   */
  droppedBytes?: number;
}

const WIDTH = 60;
/** A section is not worth shortening below this: past it, hosts get one summary line each. */
const MIN_SECTION = 256;
/** Longest text of a summary line's output excerpt. */
const SUMMARY_EXCERPT = 120;

function header(title: string): string {
  const len = [...title].length;
  return title + "═".repeat(Math.max(3, WIDTH - len));
}

/** One line for a host whose section did not fit: status, size, and the first line of output. */
function summaryLine(b: BroadcastBlock, body: string): string {
  const bytes = b.droppedBytes ?? Buffer.byteLength(b.output);
  const first = (b.error ? body : (b.output.split("\n", 1)[0] ?? "")).replace(/[\0-\x1f\x7f]/g, " ");
  const excerpt = cutUtf8(first, SUMMARY_EXCERPT) + (Buffer.byteLength(first) > SUMMARY_EXCERPT ? "…" : "");
  const what = b.error ? excerpt : `${bytes} bytes${excerpt ? `: ${excerpt}` : ""}`;
  return `  ${b.ok ? "✓" : "✗"} ${b.host}:${b.path} — ${what}`;
}

/**
 * One block per target (header, output or `Error: …`, blank line) and the footer
 * `─── N/M hosts succeeded ───`. Failed commands keep their output. The whole text stays within
 * `maxTotalBytes`: first sections are shortened evenly (headers and footer always stay); when
 * that would leave less than 256 bytes a section (hundreds of hosts), hosts are shown in order as
 * full blocks while they fit, and every other host gets one summary line (✓/✗, size or error).
 */
export function formatBroadcast(blocks: BroadcastBlock[], opts: { maxTotalBytes?: number } = {}): string {
  const bodies = blocks.map((b) => (b.error ? `Error: ${b.output.replace(/^Error:\s*/, "")}` : b.output));
  const heads = blocks.map((b) => header(`═══ ${b.host}:${b.path} ${b.ok ? "" : "[FAILED] "}`));
  const ok = blocks.filter((b) => b.ok).length;
  const footer = `─── ${ok}/${blocks.length} hosts succeeded ───`;
  const cap = opts.maxTotalBytes;
  const out: string[] = [];
  const blockBytes = (i: number, body: string) =>
    Buffer.byteLength(heads[i] as string) + Buffer.byteLength(body) + 3;
  const headBytes = heads.reduce((n, h) => n + Buffer.byteLength(h) + 3, 0) + Buffer.byteLength(footer) + 200;
  const bodyBytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
  const anyDropped = blocks.some((b) => b.droppedBytes !== undefined);
  if (cap === undefined || (!anyDropped && headBytes + bodyBytes <= cap)) {
    blocks.forEach((_, i) => out.push(heads[i] as string, bodies[i] as string, ""));
    out.push(footer);
    return out.join("\n");
  }
  const share = Math.floor((cap - headBytes) / Math.max(1, blocks.length));
  if (!anyDropped && share >= MIN_SECTION) {
    let shortened = 0;
    blocks.forEach((_, i) => {
      let b = bodies[i] as string;
      if (Buffer.byteLength(b) > share) {
        b = cutUtf8(b, share) + `\n[section cut at ${share} bytes]`;
        shortened++;
      }
      out.push(heads[i] as string, b, "");
    });
    if (shortened > 0)
      out.push(`[broadcast output capped at ${cap} bytes; ${shortened} host sections shortened]`);
    out.push(footer);
    return out.join("\n");
  }
  // Too many hosts for a section each: full blocks while they fit, then one line per host.
  const lines = blocks.map((b, i) => summaryLine(b, bodies[i] as string));
  const lineBytes = lines.map((l) => Buffer.byteLength(l) + 1);
  let rest = lineBytes.reduce((a, b) => a + b, 0);
  let used = Buffer.byteLength(footer) + 200;
  let full = 0;
  for (let i = 0; i < blocks.length; i++) {
    rest -= lineBytes[i] as number;
    const b = blocks[i] as BroadcastBlock;
    const cost = blockBytes(i, bodies[i] as string);
    if (b.droppedBytes !== undefined || used + cost + rest > cap) {
      rest += lineBytes[i] as number;
      break;
    }
    out.push(heads[i] as string, bodies[i] as string, "");
    used += cost;
    full++;
  }
  const summarized = blocks.length - full;
  if (summarized > 0) {
    out.push(`[${summarized} of ${blocks.length} hosts did not fit in ${cap} bytes: one line each]`);
    let shown = 0;
    for (let i = full; i < blocks.length; i++) {
      if (used + (lineBytes[i] as number) > cap) break;
      out.push(lines[i] as string);
      used += lineBytes[i] as number;
      shown++;
    }
    if (shown < summarized) out.push(`[${summarized - shown} more hosts not shown; target fewer hosts]`);
    out.push("");
  }
  out.push(footer);
  return out.join("\n");
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function cutUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s);
  if (buf.length <= maxBytes) return s;
  let end = maxBytes;
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}

export function formatDiffIdentical(h1: string, p1: string, h2: string, p2: string): string {
  return `Files are identical:\n  ${h1}:${p1}\n  ${h2}:${p2}`;
}

export function formatContentMatches(path: string): string {
  return `File matches expected content: ${path}`;
}

function human(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1024 * 1024) return `${(bytesPerSecond / 1024 / 1024).toFixed(2)} MB/s`;
  return `${(bytesPerSecond / 1024).toFixed(2)} KB/s`;
}

export function formatTransfer(t: {
  direction: "upload" | "download" | "remote";
  src: string;
  dst: string;
  bytes: number;
  durationMs: number;
}): string {
  const verb = t.direction === "upload" ? "Uploaded" : t.direction === "download" ? "Downloaded" : "Streamed";
  const suffix = t.direction === "remote" ? " (remote-to-remote)" : "";
  const seconds = Math.max(t.durationMs, 0.001) / 1000;
  return [
    `✓ ${verb} ${t.src} → ${t.dst}${suffix}`,
    `  Size: ${(t.bytes / 1024).toFixed(2)} KB`,
    `  Rate: ${human(t.bytes / seconds)} in ${seconds.toFixed(2)} s`,
  ].join("\n");
}

export function formatFindResult(
  matches: string[],
  pattern: string,
  path: string,
  truncated: boolean,
): string {
  if (matches.length === 0) return `No files matching '${pattern}' found in ${path}`;
  return (
    matches.join("\n") +
    (truncated ? `\n[results capped: ${matches.length} shown; narrow the pattern or depth]` : "")
  );
}

// ---- resource links -------------------------------------------------------------------------------

/** A `resource_link` content block (MCP 2025-06-18 and later): a URI the client may read. */
export interface ResourceLinkBlock {
  type: "resource_link";
  uri: string;
  name: string;
  description?: string;
  size?: number;
}

/** What a listing, tree or find answer can link to. */
export interface LinkTarget {
  path: string;
  /** An EntryType, or "match" (a find result: a file or a directory). */
  type: string;
  size?: number;
  /** The name shown (default: the path's last segment). */
  name?: string;
}

const LINKABLE: ReadonlySet<string> = new Set(["file", "directory", "symlink", "match"]);

/** `scout://HOST/PATH` with the host and every path segment percent-encoded (spaces, `#`, `?`…). */
export function scoutUri(host: string, path: string): string {
  const rest = path.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
  return `scout://${encodeURIComponent(host)}/${rest}`;
}

/**
 * At most `max` resource links to the readable entries (files, directories, symlinks; not FIFOs
 * or devices, which a read refuses), in the answer's order. The text lists every entry anyway:
 * the links are extra blocks for clients that open resources, bounded so they cost little.
 */
export function resourceLinks(host: string, targets: Iterable<LinkTarget>, max: number): ResourceLinkBlock[] {
  const out: ResourceLinkBlock[] = [];
  if (max <= 0) return out;
  for (const t of targets) {
    if (!LINKABLE.has(t.type)) continue;
    const name = t.name ?? (t.path.slice(t.path.lastIndexOf("/") + 1) || t.path);
    out.push({
      type: "resource_link",
      uri: scoutUri(host, t.path),
      name,
      description: `${t.type} ${host}:${t.path}`,
      ...(t.type === "file" && t.size !== undefined ? { size: t.size } : {}),
    });
    if (out.length >= max) break;
  }
  return out;
}

export function errorText(e: unknown): string {
  const msg = e instanceof ScoutError ? e.userText : e instanceof Error ? e.message : String(e);
  return `Error: ${msg.replace(/^(Error:\s*)+/, "")}`;
}

// ---- resource views (docker, compose, zfs, syslog) ------------------------------------------------

export function formatDockerList(host: string, raw: string): string {
  const lines = raw.split("\n").filter((l) => l.includes("\t"));
  if (lines.length === 0) return "No containers found (or Docker not available).";
  const out = [`# Docker Containers on ${host}`, "=".repeat(50), ""];
  for (const l of lines) {
    const [name = "", status = "", image = ""] = l.split("\t");
    out.push(
      `${status.includes("Up") ? "●" : "○"} ${name}`,
      `    Status: ${status}`,
      `    Image:  ${image}`,
      `    Logs:   ${host}://docker/${name}/logs`,
      "",
    );
  }
  return out.join("\n");
}

export function formatComposeList(host: string, json: string): string {
  let projects: Array<{ Name?: string; Status?: string; ConfigFiles?: string }> = [];
  try {
    projects = JSON.parse(json || "[]") as typeof projects;
  } catch {
    projects = [];
  }
  if (projects.length === 0) return "No compose projects found (or Docker Compose not available).";
  const out = [`# Docker Compose Projects on ${host}`, "=".repeat(50), ""];
  for (const p of projects) {
    out.push(
      `${(p.Status ?? "").includes("running") ? "●" : "○"} ${p.Name ?? ""}`,
      `    Status: ${p.Status ?? ""}`,
      `    Config: ${p.ConfigFiles ?? ""}`,
      `    View:   ${host}://compose/${p.Name ?? ""}`,
      `    Logs:   ${host}://compose/${p.Name ?? ""}/logs`,
      "",
    );
  }
  return out.join("\n");
}

export function formatZfsOverview(host: string, raw: string): string {
  const lines = raw.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return "ZFS is installed but no pools are configured.";
  const out = [`# ZFS Overview: ${host}`, "=".repeat(50), ""];
  for (const l of lines) {
    const [name = "", size = "", alloc = "", free = "", cap = "", health = ""] = l.split("\t");
    out.push(
      `${health === "ONLINE" ? "●" : "○"} ${name}`,
      `    Size: ${size}  Used: ${alloc}  Free: ${free}  Cap: ${cap}  Health: ${health}`,
      "",
    );
  }
  out.push(
    "## Quick Links",
    ...lines.map((l) => `  ${host}://zfs/${l.split("\t")[0] ?? ""}`),
    `  ${host}://zfs/snapshots`,
  );
  return out.join("\n");
}

export function formatZfsPool(host: string, pool: string, raw: string): string {
  return `# ZFS Pool: ${pool}@${host}\n\n${raw}`;
}

export function formatZfsDatasets(host: string, pool: string, raw: string): string {
  const out = [
    `# ZFS Datasets: ${pool}@${host}`,
    "",
    `${"NAME".padEnd(50)} ${"USED".padStart(8)} ${"AVAIL".padStart(8)} ${"REFER".padStart(8)}  MOUNTPOINT`,
  ];
  for (const l of raw.split("\n").filter((x) => x.trim() !== "")) {
    const [name = "", used = "", avail = "", refer = "", mount = ""] = l.split("\t");
    out.push(`${name.padEnd(50)} ${used.padStart(8)} ${avail.padStart(8)} ${refer.padStart(8)}  ${mount}`);
  }
  return out.join("\n");
}

export function formatZfsSnapshots(host: string, raw: string): string {
  const lines = raw.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return `No ZFS snapshots on ${host}.`;
  return [`# ZFS Snapshots: ${host}`, "", ...lines.map((l) => l.split("\t").join("  "))].join("\n");
}

export function formatSyslog(host: string, source: string, raw: string): string {
  return [`# System Logs: ${host}`, "=".repeat(50), `Source: ${source} (last 100 lines)`, "", raw].join("\n");
}
