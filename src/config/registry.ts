/**
 * The live host list: ssh_config (with Includes) resolved, filtered by SCOUT_ALLOW_HOSTS /
 * SCOUT_DENY_HOSTS, re-read without blocking when any of its files changes, with a "change" event
 * when the resolved list really changed.
 */
import { EventEmitter } from "node:events";
import { watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { ScoutError } from "../errors.js";
import type { HostConfig } from "./host.js";
import { closestAliases } from "./closest.js";
import { makeHostFilter } from "./host-filter.js";
import type { Settings } from "./settings.js";
import { loadSshConfig, type LoadOptions, type LoadedSshConfig } from "./ssh-config.js";

export interface RegistryOptions {
  watch?: boolean;
  log?: (level: "warn" | "info", msg: string) => void;
}

/** What the registry needs of the settings (the ssh-config ones are optional for benchmarks). */
export type RegistrySettings = Pick<Settings, "sshConfigPath" | "allowHosts" | "denyHosts"> &
  Partial<Pick<Settings, "systemSshConfigPath" | "matchExec" | "matchExecTimeoutMs">>;

/** LoadOptions for loadSshConfig() from the settings. */
export function sshConfigLoadOptions(settings: RegistrySettings): LoadOptions {
  return {
    // Absent (a partial settings object): the default system file; undefined in Settings: none.
    ...("systemSshConfigPath" in settings ? { systemConfigPath: settings.systemSshConfigPath ?? null } : {}),
    ...(settings.matchExec !== undefined ? { matchExec: settings.matchExec } : {}),
    ...(settings.matchExecTimeoutMs !== undefined ? { matchExecTimeoutMs: settings.matchExecTimeoutMs } : {}),
  };
}

/** Up to this many aliases, an unknown-host answer lists them all; above, the closest few. */
const LIST_ALL_MAX = 20;
const CLOSEST = 5;

/** The answer for an alias that is not configured: bounded whatever the fleet's size. */
function unknownHost(alias: string, hosts: readonly HostConfig[]): never {
  const shown = alias.length > 100 ? `${alias.slice(0, 100)}…` : alias;
  if (hosts.length <= LIST_ALL_MAX) {
    throw new ScoutError(
      "unknown-host",
      `Unknown host '${shown}'. Available: ${hosts.map((x) => x.alias).join(", ")}`,
    );
  }
  const near = closestAliases(
    alias.slice(0, 100),
    hosts.map((h) => h.alias),
    CLOSEST,
  );
  throw new ScoutError(
    "unknown-host",
    `Unknown host '${shown}'. Closest of the ${hosts.length} configured: ${near.join(", ")}`,
    {
      hint: "List them with scout('hosts'), or a subset with scout('hosts:PATTERN'), e.g. scout('hosts:web-*')",
    },
  );
}

export class HostRegistry extends EventEmitter<{ change: [hosts: HostConfig[]] }> {
  private hosts: HostConfig[] = [];
  private byAlias = new Map<string, HostConfig>();
  private loaded: LoadedSshConfig | undefined;
  private watchers: FSWatcher[] = [];
  private watchedDirsKey = "";
  private debounce: NodeJS.Timeout | undefined;
  private readonly allowed: (alias: string) => boolean;
  private closed = false;
  private loadedOnce = false;
  /** Set while the config on disk does not parse and the last good one is served. */
  private refused: { error: string; since: Date; keptHosts: number } | undefined;

  private constructor(
    private readonly settings: RegistrySettings,
    private readonly options: RegistryOptions,
  ) {
    super();
    this.allowed = makeHostFilter(settings.allowHosts, settings.denyHosts);
  }

  static async open(settings: RegistrySettings, options: RegistryOptions = {}): Promise<HostRegistry> {
    const r = new HostRegistry(settings, options);
    await r.reload();
    return r;
  }

  list(): HostConfig[] {
    return this.hosts;
  }

  get(alias: string): HostConfig | undefined {
    return this.byAlias.get(alias);
  }

  require(alias: string): HostConfig {
    const h = this.byAlias.get(alias);
    if (h) return h;
    if (this.hosts.length === 0) {
      throw new ScoutError("unknown-host", `Unknown host '${alias}'. No hosts are configured`, {
        hint: `Add Host entries to ${this.settings.sshConfigPath} (or point SCOUT_SSH_CONFIG at your ssh config)`,
      });
    }
    return unknownHost(alias, this.hosts);
  }

  /**
   * Why the ssh config on disk is not the one in use: a reload found a config that ssh would
   * refuse, so the last good one is kept. Undefined when the file in use is the file on disk.
   */
  /**
   * True when writing `path` could change the ssh configuration: a file it read (the user and
   * system configs, their Includes) or a file an Include glob would pick up.
   */
  readsConfigFrom(path: string): boolean {
    const loaded = this.loaded;
    if (!loaded) return false;
    return loaded.files.includes(path) || loaded.affects(path);
  }

  configProblem(): string | undefined {
    if (!this.refused) return undefined;
    const { error, since, keptHosts } = this.refused;
    return `ssh config change not applied (${since.toISOString()}): ${error}; still serving the last good config (${keptHosts} hosts)`;
  }

  async reload(): Promise<void> {
    const loaded = await loadSshConfig(this.settings.sshConfigPath, sshConfigLoadOptions(this.settings));
    if (loaded.error !== undefined && this.loadedOnce && this.loaded?.error === undefined && this.loaded) {
      // A half-edited file must not replace a working config: keep serving the last good one, and
      // keep watching (the new file's Includes too) to pick up the fix.
      this.refused = {
        error: loaded.error,
        since: this.refused?.since ?? new Date(),
        keptHosts: this.hosts.length,
      };
      this.options.log?.("warn", this.configProblem() as string);
      if (this.options.watch) this.watchDirs([...new Set([...this.loaded.watchDirs, ...loaded.watchDirs])]);
      const good = this.loaded;
      const affects = (p: string) => good.affects(p) || loaded.affects(p);
      this.loaded = { ...good, affects };
      return;
    }
    this.refused = undefined;
    for (const w of loaded.warnings) this.options.log?.("warn", w);
    const hosts = loaded.hosts
      .filter((h) => this.allowed(h.alias))
      .sort((a, b) => a.alias.localeCompare(b.alias));
    const changed = JSON.stringify(hosts) !== JSON.stringify(this.hosts);
    this.loaded = loaded;
    this.hosts = hosts;
    this.byAlias = new Map(hosts.map((h) => [h.alias, h]));
    if (this.options.watch) this.watchDirs(loaded.watchDirs);
    if (changed && this.loadedOnce) this.emit("change", hosts);
    this.loadedOnce = true;
  }

  /**
   * Watches the directories that can change the result (editors replace files, which a file watch
   * misses; Include globs can gain files); only events for paths that matter trigger a reload.
   */
  private watchDirs(dirs: string[]): void {
    if (this.closed) return;
    const key = JSON.stringify([...dirs].sort());
    if (key === this.watchedDirsKey) return;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watchedDirsKey = key;
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name && this.loaded && !this.loaded.affects(join(dir, name.toString()))) return;
          this.scheduleReload();
        });
        w.on("error", () => {});
        this.watchers.push(w);
      } catch {
        // A missing directory (e.g. an Include glob root that does not exist yet) is not an error.
        this.options.log?.("info", `Cannot watch ${dir} for ssh config changes`);
      }
    }
  }

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.reload().catch((e: unknown) =>
        this.options.log?.("warn", `Reloading ssh config failed: ${String(e)}`),
      );
    }, 100);
    this.debounce.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
