/**
 * MCP resources: `hosts://list`, `scout://{host}/{path}`, and per host `{host}://{path}` plus the
 * docker / compose / zfs / syslog views of the Python original. Names in URIs are validated before
 * they reach any shell; everything else goes over SFTP.
 */
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { ScoutError } from "../errors.js";
import { listDirectory } from "../ops/list.js";
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
import type { ScoutEngine } from "./mode.js";
import { normalizeRemotePath, validateResourceName } from "./target.js";
import { fitReadResult } from "./budget.js";

type Registered = { remove(): void };

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

export class ResourceCatalog {
  private perHost = new Map<string, Registered[]>();

  constructor(
    private readonly mcp: McpServer,
    private readonly app: ScoutEngine,
    /** Every read goes through the call pipeline (limits, policy, deadline, audit). */
    private readonly pipeline: CallPipeline,
    private readonly session: CallSession,
  ) {}

  install(): void {
    const { mcp } = this;
    mcp.registerResource(
      "hosts",
      "hosts://list",
      {
        title: "SSH hosts",
        description: "Configured hosts with online status and their resource URIs",
        mimeType: "text/plain",
      },
      (uri, extra) =>
        this.run(uri.href, undefined, extra.signal, async () => {
          const hosts = this.app.registry.list();
          const status = await this.app.status.status(hosts);
          return text(
            uri.href,
            formatHostsResource(
              hosts.map((h) => ({
                alias: h.alias,
                user: h.user,
                hostname: h.hostname,
                port: h.port,
                online: status.get(h.alias) ?? false,
                ...(h.configError !== undefined ? { configError: h.configError } : {}),
              })),
            ),
          );
        }),
    );
    mcp.registerResource(
      "scout-path",
      new ResourceTemplate("scout://{host}/{+path}", { list: undefined }),
      { title: "File or directory on a host", description: "scout://HOST/PATH (PATH relative to /)" },
      (uri, vars, extra) => this.readPath(uri.href, one(vars.host), "/" + one(vars.path), extra.signal),
    );
    this.sync();
  }

  /** Registers resources for hosts that appeared and removes those of hosts that went away. */
  sync(): void {
    const aliases = new Set(
      this.app.registry
        .list()
        .map((h) => h.alias)
        .filter(isSchemeSafe),
    );
    let changed = false;
    for (const [alias, regs] of this.perHost) {
      if (!aliases.has(alias)) {
        for (const r of regs) r.remove();
        this.perHost.delete(alias);
        changed = true;
      }
    }
    for (const alias of aliases) {
      if (!this.perHost.has(alias)) {
        this.perHost.set(alias, this.registerHost(alias));
        changed = true;
      }
    }
    if (changed && this.mcp.isConnected()) this.mcp.sendResourceListChanged();
  }

  private registerHost(h: string): Registered[] {
    const { mcp } = this;
    const regs: Registered[] = [];
    const tpl = (
      name: string,
      uri: string,
      description: string,
      read: (href: string, vars: Record<string, string>, signal: AbortSignal) => Promise<ReadResourceResult>,
    ) => {
      regs.push(
        mcp.registerResource(
          `${h}-${name}`,
          new ResourceTemplate(uri, { list: undefined }),
          { description },
          (u, vars, extra) => {
            const flat: Record<string, string> = {};
            for (const [k, v] of Object.entries(vars)) flat[k] = one(v);
            return read(u.href, flat, extra.signal);
          },
        ),
      );
    };
    const fixed = (
      name: string,
      uri: string,
      description: string,
      read: (href: string, signal: AbortSignal) => Promise<ReadResourceResult>,
    ) => {
      regs.push(
        mcp.registerResource(`${h}-${name}`, uri, { description, mimeType: "text/plain" }, (u, extra) =>
          read(u.href, extra.signal),
        ),
      );
    };
    // Specific templates first: templates are matched in registration order.
    tpl(
      "docker-logs",
      `${h}://docker/{container}/logs`,
      `Last 100 log lines of a container on ${h}`,
      (u, v, s) =>
        this.command(
          u,
          h,
          s,
          () => {
            const c = validateResourceName(v.container ?? "", "container");
            return `${DOCKER_CHECK}docker logs --tail 100 --timestamps ${shellQuote(c)} 2>&1`;
          },
          (out, code) => {
            if (code === 127) throw notAvailable("Docker", h);
            if (code !== 0 && /No such container/i.test(out)) {
              throw new ScoutError(
                "not-found",
                `Container '${v.container}' not found on ${h}. Use ${h}://docker to see available containers.`,
              );
            }
            return `# Container Logs: ${v.container}@${h}\n\n${out}`;
          },
        ),
    );
    tpl(
      "compose-logs",
      `${h}://compose/{project}/logs`,
      `Last 100 log lines of a compose project on ${h}`,
      (u, v, s) =>
        this.command(
          u,
          h,
          s,
          () => {
            const p = validateResourceName(v.project ?? "", "compose project");
            return `${DOCKER_CHECK}docker compose -p ${shellQuote(p)} logs --tail 100 --timestamps 2>&1`;
          },
          (out, code) => {
            if (code === 127) throw notAvailable("Docker", h);
            if (/no configuration file provided|not found/i.test(out)) {
              throw new ScoutError(
                "not-found",
                `Compose project '${v.project}' not found on ${h}. Use ${h}://compose to see available projects.`,
              );
            }
            return `# Compose Logs: ${v.project}@${h}\n\n${out}`;
          },
        ),
    );
    tpl("compose-file", `${h}://compose/{project}`, `The compose file of a project on ${h}`, (u, v, s) =>
      this.composeFile(u, h, v.project ?? "", s),
    );
    tpl("zfs-datasets", `${h}://zfs/{pool}/datasets`, `Datasets of a ZFS pool on ${h}`, (u, v, s) =>
      this.command(
        u,
        h,
        s,
        () => {
          const p = validateResourceName(v.pool ?? "", "pool");
          return `${ZFS_CHECK}zfs list -H -r -o name,used,avail,refer,mountpoint ${shellQuote(p)} 2>&1`;
        },
        (out, code) => {
          if (code === 127) throw notAvailable("ZFS", h);
          if (code !== 0) throw poolError(h, v.pool ?? "", out);
          return formatZfsDatasets(h, v.pool ?? "", out);
        },
      ),
    );
    fixed("zfs-snapshots", `${h}://zfs/snapshots`, `ZFS snapshots on ${h}`, (u, s) =>
      this.command(
        u,
        h,
        s,
        () => ZFS_CHECK + "zfs list -H -t snapshot -o name,used,creation | tail -50",
        (out, code) => {
          if (code === 127) throw notAvailable("ZFS", h);
          return formatZfsSnapshots(h, out);
        },
      ),
    );
    tpl("zfs-pool", `${h}://zfs/{pool}`, `Status of a ZFS pool on ${h}`, (u, v, s) =>
      this.command(
        u,
        h,
        s,
        () => `${ZFS_CHECK}zpool status ${shellQuote(validateResourceName(v.pool ?? "", "pool"))} 2>&1`,
        (out, code) => {
          if (code === 127) throw notAvailable("ZFS", h);
          if (code !== 0) throw poolError(h, v.pool ?? "", out);
          return formatZfsPool(h, v.pool ?? "", out);
        },
      ),
    );
    fixed("docker", `${h}://docker`, `Docker containers on ${h}`, (u, s) =>
      this.command(
        u,
        h,
        s,
        () => `${DOCKER_CHECK}docker ps -a --format '{{.Names}}\t{{.Status}}\t{{.Image}}' 2>&1`,
        (out, code) => {
          if (code === 127) throw notAvailable("Docker", h);
          if (code !== 0) throw notAvailable("Docker", h, out);
          return formatDockerList(h, out);
        },
      ),
    );
    fixed("compose", `${h}://compose`, `Docker Compose projects on ${h}`, (u, s) =>
      this.command(
        u,
        h,
        s,
        () => `${DOCKER_CHECK}docker compose ls --format json 2>&1`,
        (out, code) => {
          if (code === 127) throw notAvailable("Docker", h);
          if (code !== 0) throw notAvailable("Docker Compose", h, out);
          return formatComposeList(h, out);
        },
      ),
    );
    fixed("zfs", `${h}://zfs`, `ZFS pools on ${h}`, (u, s) =>
      this.command(
        u,
        h,
        s,
        () => ZFS_CHECK + "zpool list -H -o name,size,alloc,free,cap,health",
        (out, code) => {
          if (code === 127) throw notAvailable("ZFS", h);
          return formatZfsOverview(h, out);
        },
      ),
    );
    fixed("syslog", `${h}://syslog`, `Last 100 system log lines on ${h}`, (u, s) =>
      this.command(
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
      ),
    );
    tpl("path", `${h}://{+path}`, `File or directory on ${h}`, (u, v, s) =>
      this.readPath(u, h, "/" + (v.path ?? ""), s),
    );
    return regs;
  }

  private async run(
    uri: string,
    host: string | undefined,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<ReadResourceResult>,
    target?: () => { host: string; path: string },
  ): Promise<ReadResourceResult> {
    const read = { uri, ...(host ? { host } : {}), ...(target ? { target } : {}) };
    const result = await this.pipeline.resource(read, this.session, signal, fn);
    // Last step: the encoded answer fits one message that every mainstream client accepts.
    return fitReadResult(result, this.app.settings.maxMessageSize);
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
        return text(uri, formatFileContent({ ...r, maxFileSize: this.app.limits.maxFileSize }));
      },
      target,
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
