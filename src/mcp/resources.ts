/**
 * MCP resources: `hosts://list`, `scout://{host}/{path}`, and per host `{host}://{path}` plus the
 * docker / compose / zfs / syslog views of the Python original. Names in URIs are validated before
 * they reach any shell; everything else goes over SFTP.
 */
import {
  ProtocolError,
  ProtocolErrorCode,
  type CompleteRequest,
  type CompleteResult,
  type ListResourcesResult,
  type ListResourceTemplatesResult,
  type McpServer,
  type ReadResourceResult,
} from "@modelcontextprotocol/server";
import { ScoutError } from "../errors.js";
import { listDirectory, readdir } from "../ops/list.js";
import { readFile, statPath } from "../ops/read.js";
import { runCommand } from "../ops/exec.js";
import { shellQuote } from "../ops/paths.js";
import {
  formatComposeList,
  formatDockerList,
  formatFileContent,
  formatHostsResource,
  formatSyslog,
  formatZfsDatasets,
  formatZfsOverview,
  formatZfsPool,
  formatZfsSnapshots,
} from "./format.js";
import type { CallPipeline, CallSession } from "./calls.js";
import type { HostConfig } from "../config/host.js";
import type { ScoutEngine } from "./mode.js";
import { normalizeRemotePath, validateResourceName } from "./target.js";
import { fitReadResult, type ContinueHint } from "./budget.js";
import { hostsAnswers } from "./hosts-answer.js";

/** A URI scheme must start with a letter and contain only letters, digits, + - . */
export function isSchemeSafe(alias: string): boolean {
  return (
    /^[A-Za-z][A-Za-z0-9+.-]*$/.test(alias) &&
    !["scout", "hosts", "http", "https", "file"].includes(alias.toLowerCase())
  );
}

function text(uri: string, body: string, mimeType = "text/plain"): ReadResourceResult {
  return { contents: [{ uri, mimeType, text: body }] };
}

/** A template variable as the user meant it: URIs percent-encode spaces, backticks and the like. */
function one(v: string | string[] | undefined): string {
  const raw = Array.isArray(v) ? v.join("/") : (v ?? "");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // a stray '%' is part of the name; validation or the path lookup decides
  }
}

/** The `{host}://` views, in matching order (the path template last). */
const HOST_VIEWS = [
  { kind: "docker-logs", template: "docker/{container}/logs", title: "Last 100 log lines of a container" },
  {
    kind: "compose-logs",
    template: "compose/{project}/logs",
    title: "Last 100 log lines of a compose project",
  },
  { kind: "compose-file", template: "compose/{project}", title: "The compose file of a project" },
  { kind: "zfs-datasets", template: "zfs/{pool}/datasets", title: "Datasets of a ZFS pool" },
  { kind: "zfs-pool", template: "zfs/{pool}", title: "Status of a ZFS pool" },
] as const;

/** The fixed per-host resources, listed for every host whose alias can be a URI scheme. */
const HOST_FIXED = [
  { kind: "compose", rest: "compose", title: "Docker Compose projects" },
  { kind: "docker", rest: "docker", title: "Docker containers" },
  { kind: "syslog", rest: "syslog", title: "Last 100 system log lines" },
  { kind: "zfs", rest: "zfs", title: "ZFS pools" },
  { kind: "zfs-snapshots", rest: "zfs/snapshots", title: "ZFS snapshots" },
] as const;

const HOST_NOTE =
  "HOST is an alias from hosts://list whose name can be a URI scheme (a letter, then letters, digits, + - .), matched case-insensitively";

/**
 * The templates, one per kind for all hosts (a fleet of 1,000 hosts listed 6,000 per-host copies
 * that said nothing more): `{host}` is completed with the aliases (completion/complete).
 */
export const RESOURCE_TEMPLATES: ReadonlyArray<{
  uriTemplate: string;
  name: string;
  title: string;
  description: string;
  mimeType?: string;
}> = [
  {
    uriTemplate: "scout://{host}/{+path}",
    name: "scout-path",
    title: "File or directory on a host",
    description: "scout://HOST/PATH (PATH relative to /); HOST is any alias from hosts://list",
  },
  ...HOST_VIEWS.map((v) => ({
    uriTemplate: `{host}://${v.template}`,
    name: v.kind,
    title: v.title,
    description: `${v.title} on HOST. ${HOST_NOTE}`,
    mimeType: "text/plain",
  })),
  {
    uriTemplate: "{host}://{+path}",
    name: "path",
    title: "File or directory on a host",
    description: `HOST://PATH (PATH relative to /). ${HOST_NOTE}`,
  },
];

/** Resources per page of resources/list (and templates/list): ~70 KB, a few ms to build. */
export const LIST_PAGE_SIZE = 500;
/** Completion values per answer (the spec's maximum) and the deadline of a path completion. */
const MAX_COMPLETIONS = 100;
const COMPLETION_DEADLINE_MS = 2000;

const invalidParams = (message: string) => new ProtocolError(ProtocolErrorCode.InvalidParams, message);

/** Cursor = the last (alias, kind) a page returned: the next page resumes after it, whatever changed. */
function encodeCursor(alias: string, kind: number): string {
  return Buffer.from(JSON.stringify(["r1", alias, kind]), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { alias: string; kind: number } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(v) && v[0] === "r1" && typeof v[1] === "string" && Number.isInteger(v[2])) {
      return { alias: v[1], kind: v[2] as number };
    }
  } catch {
    // fall through: not one of ours
  }
  throw invalidParams(
    "Invalid cursor: pass the nextCursor of the previous page unchanged, or none to start over",
  );
}

/**
 * The sorted scheme-safe aliases of a host list. The registry hands out the same array until the
 * config changes, and a 2026-07-28 request builds a catalog each: computed once per host list.
 */
const SCHEME_ALIASES = new WeakMap<readonly HostConfig[], readonly string[]>();

type RouteRead = (uri: string, signal: AbortSignal) => Promise<ReadResourceResult>;

export class ResourceCatalog {
  /** Aliases last announced (sorted, scheme-safe): a change in them is one list_changed. */
  private announced: readonly string[];

  constructor(
    private readonly mcp: McpServer,
    private readonly app: ScoutEngine,
    /** Every read goes through the call pipeline (limits, policy, deadline, audit). */
    private readonly pipeline: CallPipeline,
    private readonly session: CallSession,
  ) {
    this.announced = this.schemeAliases(); // cached per host list: no cost per request
  }

  /**
   * Scout answers resources/list, templates/list, read and completion/complete itself (not through
   * McpServer.registerResource): the lists are paged, `{host}` matches case-insensitively (URL
   * parsers lowercase schemes: `Web1://x` arrives as `web1://x`), and a config change is one
   * list_changed instead of one per registration.
   */
  install(): void {
    const server = this.mcp.server;
    // The capabilities (resources with listChanged, completions) are the server's constructor's.
    server.setRequestHandler("resources/list", (req) => this.listResources(req.params?.cursor));
    server.setRequestHandler("resources/templates/list", (req) => this.listTemplates(req.params?.cursor));
    server.setRequestHandler("resources/read", async (req, ctx) => {
      try {
        return await this.read(req.params.uri, ctx.mcpReq.signal);
      } catch (e) {
        throw resourceError(e, req.params.uri);
      }
    });
    server.setRequestHandler("completion/complete", (req, ctx) =>
      this.complete(req.params, ctx.mcpReq.signal),
    );
  }

  /** After an ssh config change: one list_changed when the listed hosts changed (then true). */
  sync(): boolean {
    const now = this.schemeAliases();
    const same = now === this.announced || now.join("\n") === this.announced.join("\n");
    this.announced = now;
    if (same) return false;
    if (this.mcp.isConnected()) this.mcp.sendResourceListChanged();
    return true;
  }

  /** Sorted aliases that can be URI schemes (the others have only scout:// URIs). */
  private schemeAliases(): readonly string[] {
    const hosts = this.app.registry.list();
    let aliases = SCHEME_ALIASES.get(hosts);
    if (!aliases) {
      aliases = hosts
        .map((h) => h.alias)
        .filter(isSchemeSafe)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      SCHEME_ALIASES.set(hosts, aliases);
    }
    return aliases;
  }

  listResources(cursor?: string): ListResourcesResult {
    const aliases = this.schemeAliases();
    const resources: ListResourcesResult["resources"] = [];
    let i = 0;
    let kind = 0;
    if (cursor === undefined) {
      resources.push({
        uri: "hosts://list",
        name: "hosts",
        title: "SSH hosts",
        description: "Configured hosts with online status and their resource URIs",
        mimeType: "text/plain",
      });
    } else {
      const at = decodeCursor(cursor);
      i = lowerBound(aliases, at.alias);
      kind = aliases[i] === at.alias ? at.kind + 1 : 0;
      if (kind >= HOST_FIXED.length) [i, kind] = [i + 1, 0];
    }
    let last: [string, number] | undefined;
    for (; i < aliases.length; i++, kind = 0) {
      const h = aliases[i]!;
      for (; kind < HOST_FIXED.length; kind++) {
        if (resources.length >= LIST_PAGE_SIZE) {
          return { resources, ...(last ? { nextCursor: encodeCursor(...last) } : {}) };
        }
        const f = HOST_FIXED[kind]!;
        resources.push({
          uri: `${h}://${f.rest}`,
          name: `${h}-${f.kind}`,
          description: `${f.title} on ${h}`,
          mimeType: "text/plain",
        });
        last = [h, kind];
      }
    }
    return { resources };
  }

  listTemplates(cursor?: string): ListResourceTemplatesResult {
    // Fewer than a page, so no cursor is ever issued: one passed anyway is refused, or ends the list.
    if (cursor !== undefined) {
      decodeCursor(cursor);
      return { resourceTemplates: [] };
    }
    return { resourceTemplates: RESOURCE_TEMPLATES.map((t) => ({ ...t })) };
  }

  /**
   * The alias a URI names: exactly, else the one alias equal to it ignoring case. Several that
   * differ only in case are ambiguous (the URI may have been lowercased on the way).
   */
  private resolveAlias(name: string, schemeOnly: boolean): string | undefined {
    const all = this.app.registry.list().map((h) => h.alias);
    const pool = schemeOnly ? all.filter(isSchemeSafe) : all;
    if (pool.includes(name)) return name;
    const lower = name.toLowerCase();
    const same = pool.filter((a) => a.toLowerCase() === lower);
    if (same.length > 1) {
      throw new ScoutError(
        "invalid-input",
        `Host '${name}' is ambiguous: ${same.join(", ")} differ only in letter case, and URI schemes are case-insensitive`,
        {
          hint: "Use the scout tool with target=HOST:/path, or give the hosts aliases that differ in more than case",
        },
      );
    }
    return same[0];
  }

  /**
   * The host file a URI names, for resource subscriptions: `scout://HOST/PATH` or `HOST://PATH`
   * (not the fixed views such as `HOST://docker`, which are not files).
   */
  fileTarget(uri: string): { host: string; path: string } {
    const sep = uri.indexOf("://");
    const scheme = sep > 0 ? uri.slice(0, sep) : "";
    const rest = uri.slice(sep + 3);
    const notAFile = () =>
      new ScoutError("invalid-input", `Only files can be watched: ${uri.slice(0, 200)}`, {
        hint: "Subscribe to scout://HOST/PATH (or HOST://PATH) of a file, e.g. a log",
      });
    if (sep <= 0 || scheme.toLowerCase() === "hosts") throw notAFile();
    if (scheme.toLowerCase() === "scout") {
      const slash = rest.indexOf("/");
      const rawHost = one(slash < 0 ? rest : rest.slice(0, slash));
      if (!rawHost || slash < 0) throw notAFile();
      return { host: this.resolveAlias(rawHost, false) ?? rawHost, path: "/" + one(rest.slice(slash + 1)) };
    }
    const alias = this.resolveAlias(one(scheme), true);
    if (!alias) throw notFound(uri, `no host '${scheme}' (hosts://list lists them)`);
    if (/^(docker|compose|zfs|syslog)(\/|$)/.test(rest)) throw notAFile();
    return { host: alias, path: "/" + one(rest) };
  }

  /** resources/read: routes the URI itself (scheme compared case-insensitively). */
  read(uri: string, signal: AbortSignal): Promise<ReadResourceResult> {
    return this.route(uri)(uri, signal);
  }

  private route(uri: string): RouteRead {
    const sep = uri.indexOf("://");
    if (sep <= 0)
      throw notFound(uri, "a Scout resource URI looks like HOST://PATH, scout://HOST/PATH or hosts://list");
    const scheme = uri.slice(0, sep);
    const rest = uri.slice(sep + 3);
    const lower = scheme.toLowerCase();
    if (lower === "hosts") {
      if (rest !== "list") throw notFound(uri, "the hosts resource is hosts://list");
      return (u, s) => this.hostsResource(u, s);
    }
    if (lower === "scout") {
      const slash = rest.indexOf("/");
      const rawHost = one(slash < 0 ? rest : rest.slice(0, slash));
      if (!rawHost) throw notFound(uri, "scout://HOST/PATH needs a host");
      const alias = this.resolveAlias(rawHost, false) ?? rawHost; // unknown: the fleet says which exist
      const path = "/" + one(slash < 0 ? "" : rest.slice(slash + 1));
      return (u, s) => this.readPath(u, alias, path, s);
    }
    const alias = this.resolveAlias(one(scheme), true);
    if (!alias) {
      throw notFound(
        uri,
        `no host '${scheme}' (hosts://list lists them; an alias that cannot be a URI scheme is read as scout://ALIAS/PATH)`,
      );
    }
    return this.hostRoute(alias, rest);
  }

  /** `{host}://…`: the fixed views, then the templated ones, then a path. */
  private hostRoute(h: string, rest: string): RouteRead {
    const seg = rest.split("/");
    const name = (i: number) => one(seg[i]);
    if (rest === "docker") return (u, s) => this.dockerList(u, h, s);
    if (rest === "compose") return (u, s) => this.composeList(u, h, s);
    if (rest === "zfs") return (u, s) => this.zfsOverview(u, h, s);
    if (rest === "zfs/snapshots") return (u, s) => this.zfsSnapshots(u, h, s);
    if (rest === "syslog") return (u, s) => this.syslog(u, h, s);
    if (seg.length === 3 && seg[0] === "docker" && seg[1] && seg[2] === "logs")
      return (u, s) => this.dockerLogs(u, h, name(1), s);
    if (seg.length === 3 && seg[0] === "compose" && seg[1] && seg[2] === "logs")
      return (u, s) => this.composeLogs(u, h, name(1), s);
    if (seg.length === 2 && seg[0] === "compose" && seg[1])
      return (u, s) => this.composeFile(u, h, name(1), s);
    if (seg.length === 3 && seg[0] === "zfs" && seg[1] && seg[2] === "datasets")
      return (u, s) => this.zfsDatasets(u, h, name(1), s);
    if (seg.length === 2 && seg[0] === "zfs" && seg[1]) return (u, s) => this.zfsPool(u, h, name(1), s);
    return (u, s) => this.readPath(u, h, "/" + one(rest), s);
  }

  /**
   * completion/complete for the templates: `host` from the aliases, `path` from an SFTP listing of
   * the directory typed so far (one READDIR pass, the first 100 matches, a 2 s deadline; nothing
   * for a path the policy denies). Other arguments (containers, pools) get no suggestions.
   */
  async complete(params: CompleteRequest["params"], signal: AbortSignal): Promise<CompleteResult> {
    const none: CompleteResult = { completion: { values: [], total: 0, hasMore: false } };
    const ref = params.ref;
    if (ref.type !== "ref/resource") return none;
    const template = RESOURCE_TEMPLATES.find((t) => t.uriTemplate === ref.uri);
    if (!template) return none;
    const { name, value } = params.argument;
    const schemeOnly = template.uriTemplate.startsWith("{host}");
    if (name === "host") {
      const all = this.app.registry.list().map((h) => h.alias);
      const pool = (schemeOnly ? all.filter(isSchemeSafe) : all).sort();
      return capped(pool.filter((a) => a.toLowerCase().startsWith(value.toLowerCase())));
    }
    if (name !== "path") return none;
    const rawHost = params.context?.arguments?.host;
    if (!rawHost) return none;
    let alias: string | undefined;
    try {
      alias = this.resolveAlias(rawHost, schemeOnly);
    } catch {
      return none;
    }
    if (!alias) return none;
    return capped(await this.completePath(alias, value, signal).catch(() => []));
  }

  private async completePath(alias: string, value: string, signal: AbortSignal): Promise<string[]> {
    if (/[\0-\x1f\x7f]/.test(value)) return [];
    const cut = value.lastIndexOf("/");
    const dirPart = cut < 0 ? "" : value.slice(0, cut + 1);
    const prefix = cut < 0 ? value : value.slice(cut + 1);
    const dir = normalizeRemotePath("/" + dirPart);
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(COMPLETION_DEADLINE_MS)]);
    // Through the pipeline like a read of that directory: its policy, rate limit and audit apply.
    const entries = await this.through(
      `completion:${alias}:${dir}`,
      alias,
      deadline,
      (s) => this.app.fleet.host(alias).withSftp(({ sftp }) => readdir(sftp, dir), { signal: s }),
      () => ({ host: alias, path: dir }),
    );
    return entries
      .filter((e) => e.filename.startsWith(prefix) && e.filename !== "." && e.filename !== "..")
      .map((e) => dirPart + e.filename + ((e.attrs.mode & 0o170000) === 0o040000 ? "/" : ""))
      .sort();
  }

  private hostsResource(uri: string, signal: AbortSignal): Promise<ReadResourceResult> {
    return this.run(uri, undefined, signal, async () =>
      text(
        uri,
        await hostsAnswers(this.app).answer(
          "resource",
          undefined,
          (rows, configProblem) =>
            (configProblem !== undefined ? `Warning: ${configProblem}\n\n` : "") +
            formatHostsResource(rows, this.app.settings.hostsListMax),
        ),
      ),
    );
  }

  private dockerLogs(u: string, h: string, container: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => {
        const c = validateResourceName(container, "container");
        return `${DOCKER_CHECK}docker logs --tail 100 --timestamps ${shellQuote(c)} 2>&1`;
      },
      (out, code) => {
        if (code === 127) throw notAvailable("Docker", h);
        if (code !== 0 && /No such container/i.test(out)) {
          throw new ScoutError(
            "not-found",
            `Container '${container}' not found on ${h}. Use ${h}://docker to see available containers.`,
          );
        }
        return `# Container Logs: ${container}@${h}\n\n${out}`;
      },
    );
  }

  private composeLogs(u: string, h: string, project: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => {
        const p = validateResourceName(project, "compose project");
        return `${DOCKER_CHECK}docker compose -p ${shellQuote(p)} logs --tail 100 --timestamps 2>&1`;
      },
      (out, code) => {
        if (code === 127) throw notAvailable("Docker", h);
        if (/no configuration file provided|not found/i.test(out)) {
          throw new ScoutError(
            "not-found",
            `Compose project '${project}' not found on ${h}. Use ${h}://compose to see available projects.`,
          );
        }
        return `# Compose Logs: ${project}@${h}\n\n${out}`;
      },
    );
  }

  private zfsDatasets(u: string, h: string, pool: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => {
        const p = validateResourceName(pool, "pool");
        return `${ZFS_CHECK}zfs list -H -r -o name,used,avail,refer,mountpoint ${shellQuote(p)} 2>&1`;
      },
      (out, code) => {
        if (code === 127) throw notAvailable("ZFS", h);
        if (code !== 0) throw poolError(h, pool, out);
        return formatZfsDatasets(h, pool, out);
      },
    );
  }

  private zfsSnapshots(u: string, h: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => ZFS_CHECK + "zfs list -H -t snapshot -o name,used,creation | tail -50",
      (out, code) => {
        if (code === 127) throw notAvailable("ZFS", h);
        return formatZfsSnapshots(h, out);
      },
    );
  }

  private zfsPool(u: string, h: string, pool: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => `${ZFS_CHECK}zpool status ${shellQuote(validateResourceName(pool, "pool"))} 2>&1`,
      (out, code) => {
        if (code === 127) throw notAvailable("ZFS", h);
        if (code !== 0) throw poolError(h, pool, out);
        return formatZfsPool(h, pool, out);
      },
    );
  }

  private dockerList(u: string, h: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => `${DOCKER_CHECK}docker ps -a --format '{{.Names}}\t{{.Status}}\t{{.Image}}' 2>&1`,
      (out, code) => {
        if (code === 127) throw notAvailable("Docker", h);
        if (code !== 0) throw notAvailable("Docker", h, out);
        return formatDockerList(h, out);
      },
    );
  }

  private composeList(u: string, h: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => `${DOCKER_CHECK}docker compose ls --format json 2>&1`,
      (out, code) => {
        if (code === 127) throw notAvailable("Docker", h);
        if (code !== 0) throw notAvailable("Docker Compose", h, out);
        return formatComposeList(h, out);
      },
    );
  }

  private zfsOverview(u: string, h: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () => ZFS_CHECK + "zpool list -H -o name,size,alloc,free,cap,health",
      (out, code) => {
        if (code === 127) throw notAvailable("ZFS", h);
        return formatZfsOverview(h, out);
      },
    );
  }

  private syslog(u: string, h: string, s: AbortSignal): Promise<ReadResourceResult> {
    return this.command(
      u,
      h,
      s,
      () =>
        "if command -v journalctl >/dev/null 2>&1; then echo journalctl; journalctl --no-pager -n 100 2>&1; elif test -r /var/log/syslog; then echo /var/log/syslog; tail -n 100 /var/log/syslog; else exit 127; fi",
      (out, code) => {
        if (code === 127) throw notAvailable("System logs (journalctl or /var/log/syslog)", h);
        const nl = out.indexOf("\n");
        const source = nl >= 0 ? out.slice(0, nl) : out;
        return formatSyslog(h, source, nl >= 0 ? out.slice(nl + 1) : "");
      },
    );
  }

  /** Through the pipeline without the message budget (a completion's listing). */
  private through<T>(
    uri: string,
    host: string,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
    target: () => { host: string; path: string },
  ): Promise<T> {
    return this.pipeline.resource({ uri, host, target }, this.session, signal, fn);
  }

  private async run(
    uri: string,
    host: string | undefined,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<ReadResourceResult>,
    target?: () => { host: string; path: string },
    hint?: ContinueHint,
  ): Promise<ReadResourceResult> {
    const read = { uri, ...(host ? { host } : {}), ...(target ? { target } : {}) };
    const result = await this.pipeline.resource(read, this.session, signal, fn);
    // Last step: the encoded answer fits one message that every mainstream client accepts.
    return fitReadResult(result, this.app.settings.maxMessageSize, hint);
  }

  private readPath(
    uri: string,
    alias: string,
    rawPath: string,
    signal: AbortSignal,
  ): Promise<ReadResourceResult> {
    // Same normalization and policy as the tool: a resource URI is no way around a deny rule
    // (the pipeline checks the path policy on this target before the read runs).
    const target = () => {
      if (/[\0-\x1f\x7f]/.test(rawPath))
        throw new ScoutError("invalid-input", "Path contains control characters");
      return { host: alias, path: normalizeRemotePath(rawPath) };
    };
    let fileRead = false; // a cut listing has no offset to read on from
    return this.run(
      uri,
      alias,
      signal,
      async (s) => {
        const path = target().path;
        const host = this.app.fleet.host(alias);
        const info = await statPath(host, path, s);
        if (info.type === "directory") {
          const l = await listDirectory(host, path, this.app.limits, { signal: s });
          return text(uri, `# Directory: ${alias}:${path}\n\n${l.text}`);
        }
        const r = await readFile(host, path, this.app.limits, { signal: s });
        if (r.binary) {
          // resources/read serves text; a description in place of the bytes would pass for them.
          throw new ScoutError("binary", `${alias}:${path} is a binary file (${r.size} bytes), not text`, {
            hint: `Download it with the scout tool (beam), or look at it with query="xxd ${path} | head"`,
          });
        }
        fileRead = true;
        return text(uri, formatFileContent({ ...r, maxFileSize: this.app.limits.maxFileSize }));
      },
      target,
      (shown) =>
        fileRead
          ? `read on with the scout tool: target="${alias}:${normalizeRemotePath(rawPath)}", offset=${shown}`
          : undefined,
    );
  }

  private command(
    uri: string,
    alias: string,
    signal: AbortSignal,
    build: () => string,
    render: (stdout: string, exitCode: number | null) => string,
  ): Promise<ReadResourceResult> {
    return this.run(uri, alias, signal, async (s) => {
      const cmd = build(); // validates names before any SSH traffic
      const host = this.app.fleet.host(alias);
      const r = await runCommand(host, cmd, this.app.limits, { cwd: "/", signal: s });
      return text(uri, render(r.stdout, r.exitCode));
    });
  }

  private composeFile(
    uri: string,
    alias: string,
    project: string,
    signal: AbortSignal,
  ): Promise<ReadResourceResult> {
    return this.run(uri, alias, signal, async (s) => {
      const name = validateResourceName(project, "compose project");
      const host = this.app.fleet.host(alias);
      const ls = await runCommand(
        host,
        `${DOCKER_CHECK}docker compose ls -a --format json 2>/dev/null`,
        this.app.limits,
        {
          cwd: "/",
          signal: s,
        },
      );
      if (ls.exitCode === 127) throw notAvailable("Docker", alias);
      let file: string | undefined;
      try {
        const entries = JSON.parse(ls.stdout || "[]") as Array<{ Name?: string; ConfigFiles?: string }>;
        file = entries.find((e) => e.Name === name)?.ConfigFiles?.split(",")[0];
      } catch {
        file = undefined;
      }
      if (!file) {
        throw new ScoutError(
          "not-found",
          `Compose project '${name}' not found on ${alias}. Use ${alias}://compose to see available projects.`,
        );
      }
      const r = await readFile(host, file, this.app.limits, { signal: s });
      return text(uri, `# Compose: ${name}@${alias}\n# File: ${file}\n\n${r.content}`, "text/yaml");
    });
  }
}

/** A URI that names no resource at all (its message already says so). */
class NoSuchResource extends ScoutError {}

function notFound(uri: string, hint: string): ScoutError {
  return new NoSuchResource("not-found", `Resource ${uri} not found: ${hint}`);
}

/** ScoutError codes that mean "there is nothing at this URI". */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set(["not-found", "unknown-host"]);

/**
 * A failed resources/read as the spec's error: "resource not found" for a URI that names nothing
 * (no such host, view, file, container…) is -32602 with `data: { uri }` (sent as -32002 to a
 * 2025-era session); a malformed name is -32602; anything else (permission denied, a
 * binary file, a host that does not answer, a policy or rate refusal) is -32603 with the
 * ScoutError code in `data.code` and a message that says what to do. A defect is left to the SDK.
 */
export function resourceError(e: unknown, uri: string): unknown {
  if (!(e instanceof ScoutError)) return e;
  if (NOT_FOUND_CODES.has(e.code)) {
    const message = e instanceof NoSuchResource ? e.userText : `Resource ${uri} not found: ${e.userText}`;
    // -32602 with data exactly { uri }: the SDK's ResourceNotFoundError shape. A 2025-era
    // session sends it as -32002 (server.ts), the code of those revisions.
    return new ProtocolError(ProtocolErrorCode.InvalidParams, message, { uri });
  }
  if (e.code === "invalid-input") {
    return new ProtocolError(ProtocolErrorCode.InvalidParams, e.userText, { uri, code: e.code });
  }
  return new ProtocolError(ProtocolErrorCode.InternalError, `Cannot read ${uri}: ${e.userText}`, {
    uri,
    code: e.code,
  });
}

/** Index of the first element ≥ `key` in a sorted array. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** At most MAX_COMPLETIONS values, with the total and whether there are more. */
function capped(values: string[]): CompleteResult {
  return {
    completion: {
      values: values.slice(0, MAX_COMPLETIONS),
      total: values.length,
      hasMore: values.length > MAX_COMPLETIONS,
    },
  };
}

/** Exit 127 ("command not found") when the tool is missing, whatever the shell prints for it. */
const ZFS_CHECK = "command -v zpool >/dev/null 2>&1 || exit 127; ";
const DOCKER_CHECK = "command -v docker >/dev/null 2>&1 || exit 127; ";

function notAvailable(what: string, host: string, detail?: string): ScoutError {
  const first = detail?.trim().split("\n")[0];
  return new ScoutError(
    "not-found",
    `${what} is not available on host ${host}${first ? ` (${first.slice(0, 200)})` : ""}`,
  );
}

function poolError(host: string, pool: string, out: string): ScoutError {
  if (/command not found|not found/i.test(out) && !/no such pool/i.test(out))
    return notAvailable("ZFS", host);
  return new ScoutError("not-found", `Pool '${pool}' not found on ${host}`);
}
