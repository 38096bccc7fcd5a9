/** Scout's settings pointed at a lab fleet: its ssh_config and known_hosts, loopback HTTP on a free port. */
import { settingsWith, type Settings } from "../config/settings.js";
import type { LabFleet } from "./fleet.js";

export function labSettings(lab: LabFleet, overrides: Partial<Settings> = {}): Settings {
  return settingsWith({
    sshConfigPath: lab.sshConfigPath,
    knownHostsPath: lab.knownHostsPath,
    httpHost: "127.0.0.1",
    httpPort: 0,
    statusCacheTtlMs: 0,
    logLevel: "silent",
    ...overrides,
  });
}
