/**
 * Scenario 8: ssh_config loading with 100 and 1,000 Host entries (the Python benchmark's files),
 * and target parsing. The baseline is the bare `ssh-config` parser we build on, in the same run.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import SSHConfig from "ssh-config";
import { HostRegistry } from "../../src/config/registry.js";
import { parseTarget } from "../../src/mcp/target.js";
import type { Row } from "../report.js";
import { fig, median, ms, type Scenario } from "../support.js";

/** The Python benchmark's generated configs. */
function configText(n: number): string {
  const blocks: string[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push(
      n <= 100
        ? `Host host-${i}\n  HostName 192.168.1.${i}\n  User user${i}\n  Port ${2200 + i}\n  IdentityFile ~/.ssh/id_${i}\n`
        : `Host server-${i}\n  HostName server-${i}.example.com\n  User deploy\n  Port 22\n`,
    );
  }
  return blocks.join("\n");
}

function timeIt(reps: number, fn: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

const TARGETS = [
  "host-0:/var/log/syslog",
  "web:~/app/config.yml",
  "db-1:/etc/nginx/nginx.conf",
  "hosts",
  "a:/",
];

export const configParsing: Scenario = {
  id: 8,
  key: "config",
  title: "Config and target parsing",
  async run(ctx) {
    const reps = ctx.quick ? 10 : 40;
    const rows: Row[] = [];
    for (const n of [100, 1000]) {
      const text = configText(n);
      const file = path.join(ctx.lab.dir, `bench_config_${n}`);
      await writeFile(file, text);
      const times: number[] = [];
      let hosts = 0;
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        const r = await HostRegistry.open({ sshConfigPath: file, allowHosts: [], denyHosts: [] });
        times.push(performance.now() - t);
        hosts = r.list().length;
        r.close();
      }
      const raw = timeIt(reps, () => SSHConfig.parse(text));
      rows.push({
        measure: `load ${n} Host entries (read, parse, resolve every alias)`,
        ours: ms(median(times)),
        baseline: { name: "bare ssh-config parse", value: ms(raw) },
        reference: n === 100 ? "1.67 ms" : "10.16 ms",
        note: `${hosts} hosts, ${Math.round((hosts / median(times)) * 1000).toLocaleString("en-US")} hosts/s`,
      });
    }
    const loops = ctx.quick ? 2000 : 20_000;
    const t = performance.now();
    for (let i = 0; i < loops; i++) parseTarget(TARGETS[i % TARGETS.length]!);
    const perCall = ((performance.now() - t) / loops) * 1000;
    const b = performance.now();
    let sink = 0;
    for (let i = 0; i < loops; i++) {
      const s = TARGETS[i % TARGETS.length]!;
      const c = s.indexOf(":");
      sink += s.slice(0, c).trim().length + s.slice(c + 1).trim().length;
    }
    const basePerCall = ((performance.now() - b) / loops) * 1000;
    rows.push({
      measure: "parse one target (5 kinds, validated)",
      ours: fig(perCall, "µs"),
      baseline: { name: "bare split at ':'", value: fig(basePerCall + (sink < 0 ? 1 : 0), "µs") },
      reference: "1.1 µs (0.0011 ms)",
    });
    return { rows };
  },
};
