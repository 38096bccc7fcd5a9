/**
 * Background jobs and live output through real MCP clients against the lab fleet: a job started
 * by one Scout survives that Scout's shutdown and is followed by a second Scout process (stdio),
 * whose progress notifications carry its lines before it ends; a foreground command's lines
 * arrive as progress before its answer; read-only mode, the audit log and bad parameters.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { processesMatching, startHttpScout, startStdioScout, uniqueSleep, waitUntil } from "./harness.js";

let lab: LabFleet;
let h0: string;
let root0: string;
const created: string[] = [];
const SPOOL = "/home/scoutlab/.cache/scout-jobs";

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
});

afterAll(async () => {
  await lab?.stop();
  for (const id of created) rmSync(join(SPOOL, id), { recursive: true, force: true });
});

interface JobStructured {
  mode: string;
  action: string;
  job: { handle: string; id: string; state: string; exitCode: number | null; pid: number; signal?: string };
}

const structured = (r: { structuredContent?: unknown }) => r.structuredContent as JobStructured;

describe("background jobs over MCP", () => {
  it("survive the Scout that started them and are followed live by a second Scout process", async () => {
    const first = await startHttpScout(lab);
    const tag = uniqueSleep(0).replace("sleep ", "");
    const started = await first.call({
      target: `${h0}:${root0}`,
      // Ticks until the test creates the go file, so it is surely running while the test looks.
      query: `i=0; while [ ! -f go-${tag} ]; do i=$((i+1)); echo "tick $i ${tag}"; sleep 0.3; done; echo "done ${tag}"`,
      background: true,
    });
    expect(started.isError).toBeFalsy();
    const job = structured(started).job;
    created.push(job.id);
    expect(started.text).toContain(`Started job ${job.handle} (pid ${job.pid}) in ${root0}:`);
    expect(job.state).toBe("running");
    await first.close(); // Scout shuts down (and would kill a foreground command)
    // The job runs on: its runner (argv names the job's spool directory) is alive on the host.
    expect(processesMatching(`scout-job ${SPOOL}/${job.id}`).length).toBeGreaterThan(0);

    const second = await startStdioScout(lab);
    try {
      const status = await second.call({ job: job.handle });
      expect(status.text).toMatch(new RegExp(`^Job ${job.handle}: running for \\d+s \\(pid ${job.pid}\\)`));
      const events: Array<Progress & { at: number }> = [];
      const follow = second.client.callTool(
        { name: "scout", arguments: { job: job.handle, job_action: "output", wait: 30 } },
        undefined,
        { onprogress: (p) => events.push({ ...p, at: performance.now() }), timeout: 60_000 },
      );
      // Live: lines arrive as progress while the job still runs (it cannot end before the go file).
      await waitUntil(() => events.length >= 2, 20_000, "two progress notifications");
      expect(events[0]!.message).toMatch(new RegExp(`tick \\d+ ${tag}`));
      await lab.writeFile(join(root0, `go-${tag}`), "");
      const r = await follow;
      expect(r.isError).toBeFalsy();
      const text = (r.content as Array<{ text: string }>)[0]!.text;
      expect(text).toMatch(new RegExp(`^tick 1 ${tag}\ntick 2 ${tag}\n(.|\n)*done ${tag}\n`));
      expect(text).toMatch(new RegExp(`\\[job ${job.handle}: exited 0; \\d+ bytes of output\\]$`));
      expect(events.map((e) => e.message).join("\n")).toContain(`done ${tag}`);
      for (let i = 1; i < events.length; i++)
        expect(events[i]!.progress).toBeGreaterThan(events[i - 1]!.progress);
      // Listing by glob finds it on its host.
      const list = await second.call({ job: "*" });
      expect(list.text).toContain(`${job.handle}  exited 0`);
    } finally {
      await second.close();
    }
  });

  it("cancel kills the job's processes on the host; read-only mode refuses starts and cancels but reads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scout-jobs-audit-"));
    const auditLog = join(dir, "audit.jsonl");
    const scout = await startHttpScout(lab, { auditLog });
    const readOnly = await startHttpScout(lab, { readOnly: true });
    try {
      const cmd = uniqueSleep(300);
      const r = await scout.call({ target: `${h0}:${root0}`, query: cmd, background: true });
      const job = structured(r).job;
      created.push(job.id);
      await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to start`);

      const refusedStart = await readOnly.call({ target: `${h0}:${root0}`, query: "true", background: true });
      expect(refusedStart.isError).toBe(true);
      expect(refusedStart.text).toMatch(/^Error: Read-only mode: commands are disabled/);
      const refusedCancel = await readOnly.call({ job: job.handle, job_action: "cancel" });
      expect(refusedCancel.text).toMatch(/^Error: Read-only mode: job cancels are disabled/);
      expect((await readOnly.call({ job: job.handle })).text).toContain("running");

      const c = await scout.call({ job: job.handle, job_action: "cancel" });
      expect(c.isError).toBeFalsy();
      expect(c.text).toMatch(/^Cancelled: its process group ended on TERM\.\nJob .*: cancelled \(TERM\)/);
      await waitUntil(() => processesMatching(cmd).length === 0, 5000, `'${cmd}' to be gone`);

      // Every job operation is in the audit log, with its handle and action.
      await scout.close();
      const records = readFileSync(auditLog, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.map((x) => [x.mode, x.jobAction, x.job])).toEqual([
        ["job", "start", job.handle],
        ["job", "cancel", job.handle],
      ]);
      expect(records[0]).toMatchObject({ command: cmd, host: h0, path: root0, outcome: "ok" });
    } finally {
      await Promise.allSettled([scout.close(), readOnly.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a foreground command's lines arrive as progress before its answer", async () => {
    const scout = await startHttpScout(lab);
    try {
      const events: Array<Progress & { at: number }> = [];
      const t0 = performance.now();
      const r = await scout.client.callTool(
        {
          name: "scout",
          arguments: {
            target: `${h0}:${root0}`,
            query: "for i in 1 2 3 4; do echo line $i; sleep 0.4; done; echo oops >&2",
          },
        },
        undefined,
        { onprogress: (p) => events.push({ ...p, at: performance.now() }) },
      );
      const end = performance.now();
      expect(r.isError).toBeFalsy();
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events[0]!.message).toBe("line 1");
      expect(events[0]!.at - t0).toBeLessThan(end - t0 - 800); // well before the end, not with it
      const all = events.map((e) => e.message).join("\n");
      expect(all).toBe("line 1\nline 2\nline 3\nline 4\noops");
    } finally {
      await scout.close();
    }
  });

  it("bad job parameters answer a clear Error without touching a host", async () => {
    const scout = await startHttpScout(lab);
    try {
      expect((await scout.call({ job: "nohost/20261203-000000-abcdef" })).text).toMatch(
        /^Error: Unknown host 'nohost'/,
      );
      expect((await scout.call({ job: `${h0}/../../etc` })).text).toMatch(/^Error: Invalid job handle/);
      expect((await scout.call({ job: h0, job_action: "cancel" })).text).toMatch(
        /^Error: job_action='cancel' needs one job: job='host\/id'/,
      );
      expect((await scout.call({ target: `${h0}:${root0}`, background: true })).text).toMatch(
        /^Error: background=true needs a query/,
      );
      expect((await scout.call({ job: `${h0}/20000101-000000-abcdef` })).text).toMatch(
        new RegExp(`^Error: No job ${h0}/20000101-000000-abcdef\\. It never existed`),
      );
      expect((await scout.call({ job: "zz*" })).text).toMatch(/^Error: No host matches 'zz\*'/);
    } finally {
      await scout.close();
    }
  });
});
