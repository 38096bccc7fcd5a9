/**
 * The caps hold against floods, through a real Fleet with the default limits: 300 MB of command
 * output (stdout, then stderr) and a 50 MB file come back as 1 MiB, fast, with memory bounded, and
 * the flooding process is gone from the host.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../src/ops/exec.js";
import { readFile } from "../../src/ops/read.js";
import { eventually, startOpsLab, userProcesses, withMemoryPeak, type OpsLab } from "./lab.js";

let ops: OpsLab;
let bigFile: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  ops = await startOpsLab();
  bigFile = join(ops.lab.hosts[0]!.root, "50mb.log");
  const r = await ops.lab.runAsUser(`head -c 50000000 /dev/zero | tr '\\0' z > ${bigFile}`);
  expect(r.code).toBe(0);
  await runCommand(ops.host(), "true", ops.limits()); // connected, so that timings are the operation's
});

afterAll(async () => {
  await ops?.stop();
});

const mb = (n: number) => (n / MiB).toFixed(1);

describe("caps under floods (default limits)", () => {
  for (const stream of ["stdout", "stderr"] as const) {
    it(`300 MB on ${stream} returns 1 MiB quickly, kills the producer, memory stays bounded`, async () => {
      const limits = ops.limits();
      expect(limits.maxOutputSize).toBe(MiB);
      const size = stream === "stdout" ? "300000007" : "300000009";
      const redirect = stream === "stderr" ? " >&2" : "";
      const started = performance.now();
      const m = await withMemoryPeak(() =>
        runCommand(ops.host(), `head -c ${size} /dev/zero | tr '\\0' x${redirect}`, limits),
      );
      const ms = performance.now() - started;
      const r = m.result;
      console.log(
        `300 MB on ${stream}: ${ms.toFixed(0)} ms, rss +${mb(m.rssGrowth)} MiB, heap +${mb(m.heapGrowth)} MiB`,
      );
      expect(r[stream]).toBe("x".repeat(MiB));
      expect(r[stream === "stdout" ? "stdoutTruncated" : "stderrTruncated"]).toBe(true);
      expect(r.killed).toBe(true);
      expect(m.rssGrowth).toBeLessThan(100 * MiB);
      expect(m.heapGrowth).toBeLessThan(100 * MiB);
      // Streaming all 300 MB through SSH would take many seconds; the cap stops it early.
      expect(ms).toBeLessThan(20_000);
      expect(
        await eventually(() => userProcesses(ops.lab.user, `head -c ${size} /dev/zero`).length === 0),
      ).toBe(true);
    });
  }

  it("a 50 MB file returns its first 1 MiB, flagged truncated, with memory bounded", async () => {
    const limits = ops.limits();
    const started = performance.now();
    const m = await withMemoryPeak(() => readFile(ops.host(), bigFile, limits));
    const ms = performance.now() - started;
    console.log(
      `50 MB file: ${ms.toFixed(0)} ms, rss +${mb(m.rssGrowth)} MiB, heap +${mb(m.heapGrowth)} MiB`,
    );
    expect(m.result).toMatchObject({ size: 50_000_000, truncated: true, binary: false, bytesRead: MiB });
    expect(m.result.content).toBe("z".repeat(MiB));
    expect(m.rssGrowth).toBeLessThan(100 * MiB);
    expect(m.heapGrowth).toBeLessThan(100 * MiB);
    expect(ms).toBeLessThan(10_000);
  });
});
