/**
 * Fleet-sized targets through the real server and an SDK client, against real sshds: host patterns
 * and groups in `hosts:` and in broadcast targets, bounded broadcast concurrency (counted on the
 * hosts themselves), progress notifications, and an answer that stays within the output cap with a
 * summary line per host that did not fit.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "../../src/lab/index.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let scout: ScoutUnderTest;
let file: string;
const web = Array.from({ length: 10 }, (_, i) => `web-${String(i).padStart(2, "0")}`);

async function start(overrides: Parameters<typeof startHttpScout>[1] = {}): Promise<ScoutUnderTest> {
  const entries = [
    ...web.map((alias, i) => ({ alias, port: lab.hosts[i % 2]!.port })),
    { alias: "db-1", port: lab.hosts[0]!.port },
    { alias: "db-2", port: lab.hosts[1]!.port },
    { alias: "dead-1", port: await findFreePort() },
  ];
  const cfg = await lab.writeSshConfig(entries);
  return startHttpScout(lab, {
    sshConfigPath: cfg,
    hostGroups: { web: ["web-*", "!web-09"], db: ["db-?"], everything: ["@web", "@db", "dead-*"] },
    ...overrides,
  });
}

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  file = await lab.writeFile("fleet/hello.txt", "hello fleet\n");
  scout = await start();
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
});

const hostLines = (text: string) => text.split("\n").filter((l) => /^ {2}\[[✓✗]\] /.test(l));

describe("host patterns and groups", () => {
  it("hosts:PATTERN lists the subset, with ssh pattern semantics and groups", async () => {
    const all = await scout.call({ target: "hosts" });
    expect(hostLines(all.text)).toHaveLength(13);
    const sub = await scout.call({ target: "hosts:web-0?,!web-05" });
    expect(sub.isError).toBeFalsy();
    expect(sub.text.split("\n")[0]).toBe("Available hosts:");
    expect(hostLines(sub.text).map((l) => l.split(" ")[3])).toEqual(web.filter((w) => w !== "web-05"));
    expect(sub.structuredContent).toMatchObject({ mode: "hosts", filter: "web-0?,!web-05" });
    const group = await scout.call({ target: "HOSTS:@web" });
    expect(hostLines(group.text)).toHaveLength(9);
    const nested = await scout.call({ target: "hosts:@everything" });
    expect(hostLines(nested.text)).toHaveLength(12);
    expect(nested.text).toContain("[✗] dead-1 (offline)");
    const none = await scout.call({ target: "hosts:mail-*" });
    expect(none.isError).toBeFalsy();
    expect(none.text).toBe("No configured hosts match 'mail-*'.");
    const unknown = await scout.call({ target: "hosts:@nope" });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain("Unknown host group '@nope'");
    expect(unknown.text).toContain("@web");
  });

  it("a pattern in targets expands over the configured aliases; each host answers", async () => {
    const r = await scout.call({ targets: [`web-*:${file}`] });
    expect(r.isError).toBeFalsy();
    for (const w of web) expect(r.text).toContain(`═══ ${w}:${file} `);
    expect(r.text.match(/hello fleet/g)).toHaveLength(10);
    expect(r.text).toContain("─── 10/10 hosts succeeded ───");
    const g = await scout.call({ targets: [`@web:${file}`, `db-1:${file}`, `web-00:${file}`] });
    // web-00 comes from both the group and its own entry: once.
    expect(g.text).toContain("─── 10/10 hosts succeeded ───");
    expect(g.text).not.toContain("web-09");
  });

  it("a pattern that selects nothing fails alone, and one-host modes refuse patterns", async () => {
    const r = await scout.call({ targets: [`db-*:${file}`, `mail-*:${file}`] });
    expect(r.text).toContain("Error: No configured host matches 'mail-*'");
    expect(r.text).toContain("─── 2/3 hosts succeeded ───");
    const one = await scout.call({ target: `web-*:${file}` });
    expect(one.isError).toBe(true);
    expect(one.text).toContain(`'web-*' is a host pattern`);
    expect(one.text).toContain(`targets=["web-*:${file}"]`);
  });
});

describe("broadcast to many hosts", () => {
  it("runs at most SCOUT_BROADCAST_CONCURRENCY targets at once and reports progress", async () => {
    const s = await start({ broadcastConcurrency: 3 });
    try {
      // Next to the lab file: writable by the lab's login user.
      const dir = join(dirname(file), "conc");
      const log = join(dirname(file), "conc.log");
      // Each command registers itself, records how many are registered, and unregisters.
      const query = `mkdir -p ${dir} && touch ${dir}/$$ && ls ${dir} | wc -l >> ${log}; sleep 0.2; rm -f ${dir}/$$`;
      const events: Array<{ progress: number; total?: number }> = [];
      const r = await s.client.callTool(
        { name: "scout", arguments: { targets: ["web-*:/", "db-*:/"], query } },
        undefined,
        { onprogress: (p) => events.push(p) },
      );
      expect(r.isError).toBeFalsy();
      const counts = readFileSync(log, "utf8").trim().split("\n").map(Number);
      expect(counts).toHaveLength(12);
      expect(Math.max(...counts)).toBeLessThanOrEqual(3);
      expect(events.length).toBeGreaterThan(0);
      expect(events.at(-1)).toMatchObject({ progress: 12, total: 12 });
    } finally {
      await s.close();
    }
  });

  it("a broadcast longer than SCOUT_REQUEST_TIMEOUT answers what finished, the rest marked", async () => {
    const s = await start({ broadcastConcurrency: 1, requestTimeoutMs: 4000 });
    try {
      // One at a time: web-00 answers, web-01 (cwd /tmp) outlives the deadline, web-02 waits.
      const query = `case "$PWD" in /tmp) sleep 30;; esac; echo done`;
      const r = await s.call({ targets: ["web-00:/", "web-01:/tmp", "web-02:/"], query });
      expect(r.isError).toBeFalsy();
      expect(r.text).toContain("─── 1/3 hosts succeeded ───");
      expect(r.text).toMatch(/═══ web-00:\/ [^\n]*\n[^]*done/);
      expect(r.text).toMatch(
        /web-02:\/ \[FAILED\][^\n]*\nError: not reached: not finished within the request deadline \(SCOUT_REQUEST_TIMEOUT 4 s\)/,
      );
      expect(r.text).not.toMatch(/request timed out/);
    } finally {
      await s.close();
    }
  });

  it("stays within the output cap: full blocks while they fit, then one line per host", async () => {
    const s = await start({ maxOutputSize: 1500 });
    try {
      const r = await s.call({ targets: ["web-*:/", "dead-1:/"], query: "seq 1 60" });
      expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(1500);
      expect(r.text).toMatch(/\[\d+ of 11 hosts did not fit in 1500 bytes: one line each\]/);
      expect(r.text).toContain("  ✓ web-09:/ — 170 bytes: 1");
      expect(r.text).toMatch(/ {2}✗ dead-1:\/ — Error: Connection refused/);
      expect(r.text).toContain("─── 10/11 hosts succeeded ───");
    } finally {
      await s.close();
    }
  });
});
