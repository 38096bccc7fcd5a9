/**
 * A connection cut in the middle of an operation (by the lab's fault proxy): reads are replaced
 * and retried once transparently; a command is never retried, because it may have run.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import { runCommand } from "../../src/ops/exec.js";
import { readFile } from "../../src/ops/read.js";
import { settingsWith } from "../../src/config/settings.js";
import { limitsFrom } from "../../src/ops/limits.js";
import type { Fleet } from "../../src/ssh/fleet.js";
import { startFleet, type FaultProxy, type LabFleet } from "../fleet/index.js";
import { makeFleet } from "../ssh/helpers.js";
import { eventually } from "./lab.js";

let lab: LabFleet;
let proxy: FaultProxy;
let fleet: Fleet;
let big: string;
let bigHash: string;
const limits = { ...limitsFrom(settingsWith()), maxFileSize: 16 * 1024 * 1024 };

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  const content = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < content.length; i += 64) content.write(`line ${String(i).padStart(58, "0")}\n`, i);
  bigHash = createHash("sha256").update(content).digest("hex");
  big = await lab.writeFile("big.txt", content);
  // 10 ms each way: a 4 MiB read takes many round trips, so that a cut lands in the middle.
  proxy = await lab.proxy(0, { latencyMs: 10 });
  // No background re-dial after the cut: the connection counts below are about retries alone.
  fleet = makeFleet(
    lab,
    [{ alias: "cut", port: proxy.port, expectedKey: lab.hosts[0]!.hostKeyPublic }],
    {},
    {},
    { redialRecentMs: 0 },
  );
});

afterAll(async () => {
  await fleet?.close();
  await lab?.stop();
});

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("a connection cut mid-operation", () => {
  it("a read is replaced and retried once, transparently", async () => {
    const host = fleet.host("cut");
    await readFile(host, join(lab.hosts[0]!.root, "big.txt"), limits); // warm: connected
    proxy.resetCounters();
    const started = performance.now();
    const reading = readFile(host, big, limits);
    await new Promise((r) => setTimeout(r, 60));
    proxy.cutAll();
    const r = await reading;
    expect(performance.now() - started).toBeGreaterThan(60);
    expect(r.truncated).toBe(false);
    expect(sha(r.content)).toBe(bigHash);
    expect(proxy.accepted).toBe(1); // the replacement connection
  });

  it("retries once only: a second cut fails with a clear error", async () => {
    const host = fleet.host("cut");
    let attempts = 0;
    const err = await host
      .withSftp(async ({ sftp }) => {
        attempts++;
        proxy.cutAll();
        return new Promise((resolve, reject) => sftp.stat(big, (e, s) => (e ? reject(e) : resolve(s))));
      })
      .catch((e: unknown) => e);
    expect(attempts).toBe(2);
    expect(isScoutError(err, "connection-lost")).toBe(true);
    expect((err as Error).message).toBe("Connection to cut was lost during the operation");
  });

  it("a command is not retried: the error says it may have run", async () => {
    const host = fleet.host("cut");
    const counter = await lab.writeFile("counter.txt", "");
    await runCommand(host, "true", limits); // warm
    proxy.resetCounters();
    const running = runCommand(host, `echo ran >> ${counter}; sleep 1; echo done`, limits);
    expect(await eventually(() => readFileSync(counter, "utf8") === "ran\n")).toBe(true);
    proxy.cutAll();
    const err = await running.catch((e: unknown) => e);
    expect(isScoutError(err, "connection-lost")).toBe(true);
    expect((err as Error).message).toBe(
      "Connection to cut was lost while the command was running: it may or may not have completed, and it was not retried",
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(readFileSync(counter, "utf8")).toBe("ran\n"); // ran once, never again
    expect(proxy.accepted).toBe(0); // no reconnect to run it again
    // The host itself is fine: the next command gets a new connection.
    expect((await runCommand(host, "echo ok", limits)).stdout).toBe("ok\n");
  });
});
