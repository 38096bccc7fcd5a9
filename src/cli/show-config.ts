/**
 * `scout-mcp config`: every setting's effective value, written the way you would set it (seconds
 * for the *_TIMEOUT variables, comma lists), where it came from (default, an environment variable,
 * an alias of one, or a flag), API keys hidden; then what the ssh config yields.
 */
import { existsSync } from "node:fs";
import { HostRegistry } from "../config/registry.js";
import { SETTING_SPECS, type LoadedSettings, type SettingSpec, type Settings } from "../config/settings.js";
import { errorMessage } from "../errors.js";
import { renderTable, type Out } from "./term.js";

/** The value as it would be written in the environment variable. */
export function envValue(spec: SettingSpec, value: unknown): string {
  if (spec.key === "apiKeys") {
    const n = (value as string[]).length;
    return n === 0 ? "(none)" : `(${n} key${n === 1 ? "" : "s"}, hidden)`;
  }
  if (value === undefined) return "(unset)";
  if (Array.isArray(value)) return value.length === 0 ? "(empty)" : value.join(",");
  if (spec.key === "hostGroups") {
    const groups = Object.entries(value as Record<string, string[]>);
    return groups.length === 0 ? "(none)" : groups.map(([g, p]) => `${g}=${p.join(",")}`).join(";");
  }
  // Settings hold milliseconds; these variables are given in seconds.
  if (typeof value === "number" && spec.key.endsWith("Ms") && !spec.env.endsWith("_MS")) {
    return String(value / 1000);
  }
  return String(value);
}

export async function showConfig(
  loaded: LoadedSettings,
  flagSources: Partial<Record<keyof Settings, string>>,
  out: Out,
): Promise<void> {
  const { settings, sources } = loaded;
  const rows = [["VARIABLE", "VALUE", "SOURCE"]];
  for (const spec of SETTING_SPECS) {
    const src = sources[spec.key];
    const from =
      flagSources[spec.key] ??
      (src === "default" ? "default" : src.env === spec.env ? "environment" : `environment (${src.env})`);
    rows.push([spec.env, envValue(spec, settings[spec.key]), from]);
  }
  out.write(renderTable(rows) + "\n\n");

  const path = settings.sshConfigPath;
  if (!existsSync(path)) {
    out.write(`ssh config ${path} does not exist: no hosts (set SCOUT_SSH_CONFIG or create it)\n`);
  } else {
    try {
      const registry = await HostRegistry.open(settings, { watch: false });
      registry.close();
      const hosts = registry.list().map((h) => h.alias);
      out.write(
        `ssh config ${path}: ${hosts.length} host${hosts.length === 1 ? "" : "s"} served` +
          `${hosts.length ? `: ${hosts.slice(0, 20).join(", ")}${hosts.length > 20 ? ", …" : ""}` : ""}\n`,
      );
    } catch (e) {
      out.write(`ssh config ${path} cannot be read: ${errorMessage(e)}\n`);
    }
  }
  out.write(
    `known_hosts ${settings.knownHostsPath}${existsSync(settings.knownHostsPath) ? "" : " (does not exist yet)"}\n`,
  );
}
