/**
 * bench:engine — warm 4 KB reads through the engine (Fleet + ops readFile) next to raw ssh2 SFTP
 * on the same fleet in the same run, at concurrency 1 and 32; then the same read behind a 30 ms
 * RTT proxy, expressed in round trips, and directory listings (3 and 5,000 entries) there next to
 * ssh2's own readdir. Prints tables; never fails on numbers.
 */
import { startFleet } from "../src/lab/index.js";
import { HostRegistry } from "../src/config/registry.js";
import { settingsWith } from "../src/config/settings.js";
import { Fleet } from "../src/ssh/fleet.js";
import { createConnectionDeps } from "../src/ssh/trust.js";
import { readFile } from "../src/ops/read.js";
import { listDirectory } from "../src/ops/list.js";
import { limitsFrom } from "../src/ops/limits.js";
import { fmt, measure, printTable } from "./lib.js";
import { rawRead, rawReaddir, rawSsh } from "./support.js";

const N = Number(process.env.BENCH_N ?? 4000);

async function main(): Promise<void> {
  const lab = await startFleet({ hosts: 1 });
  try {
    const file = await lab.writeFile(
      "bench-4k.txt",
      "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096),
    );
    const proxy = await lab.proxy(0, { latencyMs: 15 });
    const cfgPath = await lab.writeSshConfig([
      { alias: "direct", port: lab.hosts[0]!.port },
      { alias: "rtt30", port: proxy.port },
    ]);
    const settings = settingsWith({ sshConfigPath: cfgPath, knownHostsPath: lab.knownHostsPath });
    const registry = await HostRegistry.open(settings, { watch: false });
    const fleet = new Fleet({
      settings,
      lookupHost: (a) => registry.require(a),
      connectionDeps: await createConnectionDeps(settings, () => {}),
    });
    const limits = limitsFrom(settings);
    const host = fleet.host("direct");
    await readFile(host, file, limits); // warm: connection + SFTP session

    const raw = await rawSsh(lab.connectConfig(0));
    await rawRead(raw.sftp, file);

    const rows: string[][] = [];
    for (const conc of [1, 32]) {
      const rawStats = await measure(N, conc, () => rawRead(raw.sftp, file));
      const engStats = await measure(N, conc, () => readFile(host, file, limits));
      rows.push([
        String(conc),
        fmt(rawStats.perSecond),
        fmt(engStats.perSecond),
        `${fmt((100 * engStats.perSecond) / rawStats.perSecond, 0)}%`,
        fmt(rawStats.p50, 3),
        fmt(engStats.p50, 3),
        fmt(engStats.p99, 3),
      ]);
    }
    printTable(
      `Warm 4 KB reads, ${N} per run (target: engine ≥ 80% of raw ssh2 SFTP)`,
      ["conc", "raw req/s", "engine req/s", "ratio", "raw p50 ms", "engine p50 ms", "engine p99 ms"],
      rows,
    );

    // Round trips: the same read behind a proxy adding 15 ms each way (30 ms RTT).
    const slow = fleet.host("rtt30");
    await readFile(slow, file, limits);
    const rtt = 30;
    const s = await measure(20, 1, () => readFile(slow, file, limits));
    const rawSlow = await rawSsh({ ...lab.connectConfig(0), port: proxy.port });
    await rawRead(rawSlow.sftp, file);
    const r = await measure(20, 1, () => rawRead(rawSlow.sftp, file));
    printTable(
      `Warm read at ${rtt} ms RTT (target: ≤ 2.2 RTT)`,
      ["path", "p50 ms", "round trips"],
      [
        ["raw ssh2 sftp.readFile (open, fstat, read, close)", fmt(r.p50), fmt(r.p50 / rtt)],
        ["engine readFile (stat+open pipelined, read)", fmt(s.p50), fmt(s.p50 / rtt)],
      ],
    );

    // Listings at 30 ms RTT: ssh2's readdir(path) asks for ~100 entries a round trip; the engine
    // keeps several READDIRs in flight.
    const dirs = lab.hosts[0]!.root;
    const made = await lab.runAsUser(
      `mkdir -p ${dirs}/list-3 ${dirs}/list-5000 && touch ${dirs}/list-3/a ${dirs}/list-3/b ${dirs}/list-3/c` +
        ` && cd ${dirs}/list-5000 && seq -f 'entry-%05g.txt' 1 5000 | xargs touch`,
    );
    if (made.code !== 0) throw new Error(`could not make the directories: ${made.stderr}`);
    const listRows: string[][] = [];
    for (const n of [3, 5000]) {
      const dir = `${dirs}/list-${n}`;
      const rawList = await measure(5, 1, () => rawReaddir(rawSlow.sftp, dir));
      const engList = await measure(5, 1, () => listDirectory(slow, dir, limits));
      listRows.push([
        String(n),
        fmt(rawList.p50),
        fmt(rawList.p50 / rtt),
        fmt(engList.p50),
        fmt(engList.p50 / rtt),
      ]);
    }
    printTable(
      `Directory listing at ${rtt} ms RTT (p50 of 5)`,
      ["entries", "raw sftp.readdir ms", "raw RTT", "engine listDirectory ms", "engine RTT"],
      listRows,
    );
    raw.client.end();
    rawSlow.client.end();
    await fleet.close();
    registry.close();
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
