/**
 * Open ahead (SCOUT_OPEN_AHEAD_MIN_RTT): on a high-RTT connection the first read of a path sends
 * its SFTP open together with the stat, before it knows the path is a regular file. Here the
 * threshold is 0, so the loopback lab opens ahead too, and every kind of path that is not a
 * regular file — a FIFO (writable or not), a symlink to one, a device behind a symlink, a
 * directory, a missing path — must be refused without wedging the real sshd's SFTP session.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import { readFile, statPath } from "../../src/ops/read.js";
import { settingsWith } from "../../src/config/settings.js";
import { limitsFrom } from "../../src/ops/limits.js";
import type { Fleet } from "../../src/ssh/fleet.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { makeFleet } from "../ssh/helpers.js";

let lab: LabFleet;
let fleet: Fleet;
let root: string;
const limits = limitsFrom(settingsWith());
const host = () => fleet.host(lab.hosts[0]!.alias);

/** uids' processes blocked opening a FIFO (kernel wait channel `wait_for_partner`). */
function blockedOnFifo(uid: number): number[] {
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, "utf8");
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (Number(m?.[1]) !== uid) continue;
      if (readFileSync(`/proc/${e}/wchan`, "utf8").trim() === "wait_for_partner") pids.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = performance.now() + ms; performance.now() < end;) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

let uid: number;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  fleet = makeFleet(lab, [{ alias: lab.hosts[0]!.alias, port: lab.hosts[0]!.port }], {
    openAheadMinRttMs: 0,
  });
  uid = Number(execFileSync("id", ["-u", lab.user], { encoding: "utf8" }).trim());
  root = join(lab.hosts[0]!.root, "ahead");
  await lab.writeFile(join(root, "a.txt"), "a\n");
  const r = await lab.runAsUser(
    [
      `cd ${root}`,
      "mkfifo pipe",
      "mkfifo -m 0444 pipe-ro",
      "ln -s pipe link-to-pipe",
      "ln -s /dev/zero zero",
      "ln -s /dev/null null",
      "mkdir dir",
    ].join(" && "),
  );
  expect(r.stderr).toBe("");
});

afterAll(async () => {
  // Unblock anything left waiting (as root: the read-only FIFO too), then stop.
  if (root)
    execFileSync("sh", ["-c", `for f in ${root}/pipe*; do timeout 2 sh -c ': > "$1"' sh "$f"; done; true`]);
  await fleet?.close();
  await lab?.stop();
});

describe("open ahead", () => {
  it("is on for the connection (threshold 0) and reads a new regular file", async () => {
    const r = await readFile(host(), `${root}/a.txt`, limits);
    expect(r.content).toBe("a\n");
    expect(fleet.stats().hosts[0]?.rtt).toMatchObject({ openAhead: true });
  });

  it.each([
    ["a FIFO", "pipe", /is a FIFO: not read/],
    ["a symlink to a FIFO", "link-to-pipe", /is a FIFO: not read/],
  ])("%s: refused, unblocked by a writer, the session keeps serving", async (_, name, message) => {
    const before = blockedOnFifo(uid).length;
    const [err, ...behind] = await Promise.all([
      readFile(host(), `${root}/${name}`, limits).catch((e: unknown) => e),
      // Sent right behind it: queued on the server behind the blocked open.
      ...Array.from({ length: 3 }, () => readFile(host(), `${root}/a.txt`, limits)),
    ]);
    expect(isScoutError(err, "not-a-file")).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect(behind.map((r) => r.content)).toEqual(Array(3).fill("a\n"));
    expect((await readFile(host(), `${root}/a.txt`, limits)).content).toBe("a\n");
    // Nothing of the user's stays blocked in the FIFO's open (the writer released it).
    expect(await waitUntil(() => blockedOnFifo(uid).length <= before, 5000)).toBe(true);
    // Known now: the next read of it sends no open at all.
    const again = await readFile(host(), `${root}/${name}`, limits).catch((e: unknown) => e);
    expect(isScoutError(again, "not-a-file")).toBe(true);
    expect(blockedOnFifo(uid).length).toBe(before);
  });

  it("a FIFO the user cannot write: its session is given up, reads go on on a fresh one", async () => {
    const [err, ...behind] = await Promise.all([
      readFile(host(), `${root}/pipe-ro`, limits).catch((e: unknown) => e),
      ...Array.from({ length: 3 }, () => readFile(host(), `${root}/a.txt`, limits)),
    ]);
    expect(isScoutError(err, "not-a-file")).toBe(true);
    expect(behind.map((r) => r.content)).toEqual(Array(3).fill("a\n"));
    const after = await Promise.all(
      Array.from({ length: 3 }, () => readFile(host(), `${root}/a.txt`, limits)),
    );
    expect(after.map((r) => r.content)).toEqual(Array(3).fill("a\n"));
    expect((await statPath(host(), `${root}/pipe-ro`)).type).toBe("fifo");
  });

  it.each([
    ["a symlink to /dev/zero", "zero", /is a character device: not read/],
    ["a symlink to /dev/null", "null", /is a character device: not read/],
    ["a directory", "dir", /is a directory/],
  ])("%s: refused, the session keeps serving", async (_, name, message) => {
    const err = await readFile(host(), `${root}/${name}`, limits).catch((e: unknown) => e);
    expect(isScoutError(err, "not-a-file")).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect((await readFile(host(), `${root}/a.txt`, limits)).content).toBe("a\n");
  });

  it("a device path under /dev and a missing path", async () => {
    const dev = await readFile(host(), "/dev/zero", limits).catch((e: unknown) => e);
    expect((dev as Error).message).toMatch(/is a character device/);
    const missing = await readFile(host(), `${root}/nope`, limits).catch((e: unknown) => e);
    expect(isScoutError(missing, "not-found")).toBe(true);
    expect((await readFile(host(), `${root}/a.txt`, limits)).content).toBe("a\n");
  });
});
