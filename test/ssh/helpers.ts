/** Builds Fleets wired straight to a lab fleet (no ssh_config parsing), for engine tests. */
import { readFileSync } from "node:fs";
import { utils } from "ssh2";
import type { HostConfig } from "../../src/config/host.js";
import { settingsWith } from "../../src/config/settings.js";
import { ScoutError } from "../../src/errors.js";
import { Fleet, type FleetObserver, type FleetSettings } from "../../src/ssh/fleet.js";
import type { ExecChannel } from "../../src/ssh/types.js";
import type { LabFleet } from "../fleet/index.js";

export interface TestHost {
  alias: string;
  port: number;
  /** The public key line the host must present (defaults to the lab host's). */
  expectedKey?: string;
  proxyJump?: HostConfig[];
  /** Any other HostConfig fields (proxyCommand, hostname…), applied last. */
  extra?: Partial<HostConfig>;
}

export function labHostConfig(lab: LabFleet, h: TestHost): HostConfig {
  return {
    alias: h.alias,
    hostname: "127.0.0.1",
    port: h.port,
    user: lab.user,
    identityFiles: [lab.clientKeyPath],
    identitiesOnly: true,
    proxyJump: h.proxyJump ?? [],
    ...h.extra,
  };
}

/** Public key blob of an OpenSSH public key line. */
export function keyBlob(line: string): Buffer {
  const b64 = line.trim().split(/\s+/)[1] ?? "";
  return Buffer.from(b64, "base64");
}

export interface CountingObserver extends FleetObserver {
  counts: Record<string, number>;
  events: Array<{ type: string; host: string; at: number }>;
}

export function countingObserver(): CountingObserver {
  const counts: Record<string, number> = {};
  const events: Array<{ type: string; host: string; at: number }> = [];
  const bump = (type: string, host: string) => {
    counts[type] = (counts[type] ?? 0) + 1;
    events.push({ type, host, at: performance.now() });
  };
  return {
    counts,
    events,
    hit: (h) => bump("hit", h),
    miss: (h) => bump("miss", h),
    connectStart: (h) => bump("connectStart", h),
    connected: (h) => bump("connected", h),
    connectFailed: (h, reason) => bump(`connectFailed:${reason}`, h),
    evicted: (h) => bump("evicted", h),
    connectionClosed: (h, reason) => bump(`closed:${reason}`, h),
  };
}

export function makeFleet(
  lab: LabFleet,
  hosts: TestHost[],
  overrides: Partial<FleetSettings> = {},
  observer: FleetObserver = {},
  limits: ConstructorParameters<typeof Fleet>[0]["limits"] = {},
): Fleet {
  const byAlias = (alias: string) => hosts.find((h) => h.alias === alias);
  const privateKey = readFileSync(lab.clientKeyPath);
  const keyForPort = new Map(lab.hosts.map((h) => [h.port, h.hostKeyPublic]));
  return new Fleet({
    settings: { ...settingsWith(), ...overrides },
    lookupHost: (alias) => {
      // Looked up in `hosts` each time: a test may remove a host from the "config" (the array).
      const h = hosts.find((x) => x.alias === alias);
      if (!h) throw new ScoutError("unknown-host", `Unknown host '${alias}'`);
      return labHostConfig(lab, h);
    },
    connectionDeps: {
      verifyHostKey: async (host, key) => {
        const entry = byAlias(host.alias);
        const expected = entry?.expectedKey ?? keyForPort.get(host.port) ?? lab.hosts[0]?.hostKeyPublic ?? "";
        if (!keyBlob(expected).equals(key)) {
          throw new ScoutError("host-key-changed", `Host key for ${host.alias} changed`);
        }
      },
      authMethods: async (host) => {
        const parsed = utils.parseKey(privateKey);
        if (parsed instanceof Error) throw parsed;
        return [{ type: "publickey", username: host.user, key: privateKey }];
      },
    },
    observer,
    limits,
  });
}

/** Runs a command on a channel to completion, collecting stdout. */
export function collect({ channel }: ExecChannel): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    let stdout = "";
    let code: number | null = null;
    channel.on("data", (d: Buffer) => (stdout += d.toString()));
    channel.stderr.on("data", () => {});
    channel.on("exit", (c: number | null) => (code = c));
    channel.on("close", () => resolve({ stdout, code }));
    channel.end();
  });
}
