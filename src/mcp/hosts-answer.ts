/**
 * The hosts answer (`scout("hosts")`, `scout("hosts:PATTERN")`, `hosts://list`) for fleets of
 * thousands: the rows come from the status cache on every call (so a host going up or down shows at
 * once), but the rendered text and structured answer are rebuilt only when the host list, the
 * selection or some host's online bit changed. With 1,100 aliases rendering cost ~100 ms a call,
 * mostly in locale-aware sorting of a list the registry had already sorted.
 */
import { selectHosts } from "../config/host-patterns.js";
import type { HostConfig } from "../config/host.js";
import type { HostRow } from "./format.js";
import type { ScoutEngine } from "./mode.js";

interface Rendered {
  hosts: readonly HostConfig[];
  online: string;
  configProblem: string | undefined;
  value: unknown;
}

/** Per engine: a pattern's selection (per host list) and each renderer's last output. */
class HostsAnswers {
  private selection = new Map<string, { hosts: readonly HostConfig[]; selected: HostConfig[] }>();
  private readonly rendered = new Map<string, Rendered>();

  constructor(private readonly engine: ScoutEngine) {}

  /** The configured hosts `filter` selects (all for undefined), in the registry's order. */
  select(filter: string | undefined): HostConfig[] {
    const all = this.engine.registry.list();
    if (filter === undefined) return all as HostConfig[];
    const hit = this.selection.get(filter);
    if (hit && hit.hosts === all) return hit.selected;
    const chosen = new Set(
      selectHosts(
        filter,
        all.map((h) => h.alias),
        this.engine.settings.hostGroups,
      ),
    );
    const selected = all.filter((h) => chosen.has(h.alias));
    if (this.selection.size > 64) this.selection = new Map(); // bounded: patterns come from clients
    this.selection.set(filter, { hosts: all, selected });
    return selected;
  }

  /**
   * `render(rows)` for the current rows of `filter`, reused while nothing it shows has changed.
   * `kind` names the renderer (one cache entry per renderer and filter). `configProblem` is the
   * registry's word on an ssh config change it refused (the hosts shown are the last good ones).
   */
  async answer<T>(
    kind: string,
    filter: string | undefined,
    render: (rows: HostRow[], configProblem: string | undefined) => T,
  ): Promise<T> {
    const hosts = this.select(filter);
    const status = await this.engine.status.status(hosts);
    let online = "";
    for (const h of hosts) online += status.get(h.alias) ? "1" : "0";
    const configProblem = this.engine.registry.configProblem();
    const key = `${kind}\0${filter ?? ""}`;
    const last = this.rendered.get(key);
    if (last && last.hosts === hosts && last.online === online && last.configProblem === configProblem) {
      return last.value as T;
    }
    const rows = hosts.map((h) => ({
      alias: h.alias,
      user: h.user,
      hostname: h.hostname,
      port: h.port,
      online: status.get(h.alias) ?? false,
      ...(h.configError !== undefined ? { configError: h.configError } : {}),
    }));
    const value = render(rows, configProblem);
    if (this.rendered.size > 64) this.rendered.clear();
    this.rendered.set(key, { hosts, online, configProblem, value });
    return value;
  }
}

const perEngine = new WeakMap<ScoutEngine, HostsAnswers>();

/** The hosts answers of this engine (created on first use). */
export function hostsAnswers(engine: ScoutEngine): HostsAnswers {
  let a = perEngine.get(engine);
  if (!a) {
    a = new HostsAnswers(engine);
    perEngine.set(engine, a);
  }
  return a;
}
