/**
 * MCP cancellation (`notifications/cancelled`, sent by the SDK client when its AbortSignal fires)
 * and progress notifications (`_meta.progressToken`, set by the SDK when `onprogress` is given),
 * over both transports, through the real SDK Client against the real lab fleet.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import {
  initializeRequest,
  processesMatching,
  startHttpScout,
  startStdioScout,
  uniqueSleep,
  waitUntil,
  type ScoutUnderTest,
} from "./harness.js";

let lab: LabFleet;
let http: ScoutUnderTest;
let stdio: ScoutUnderTest;
let h0: string;
let h1: string;
let root0: string;
let root1: string;
let beamDir: string;
const SIZE = 8 * 1024 * 1024;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  const payload = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) payload.writeUInt32LE(i, i);
  await lab.writeFile(join(root0, "big.bin"), payload);
  beamDir = mkdtempSync(join(tmpdir(), "scout-beamdir-"));
  writeFileSync(join(beamDir, "up.bin"), payload);
  [http, stdio] = await Promise.all([startHttpScout(lab, { beamDir }), startStdioScout(lab)]);
});

afterAll(async () => {
  await Promise.allSettled([http?.close(), stdio?.close()]);
  await lab?.stop();
});

async function cancelRunningQuery(scout: ScoutUnderTest): Promise<void> {
  const cmd = uniqueSleep();
  const ac = new AbortController();
  const call = scout.client.callTool(
    { name: "scout", arguments: { target: `${h0}:${root0}`, query: `${cmd}; echo finished` } },
    undefined,
    { signal: ac.signal },
  );
  call.catch(() => {}); // observed below
  await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to start on the host`);
  ac.abort("user pressed stop");
  await expect(call).rejects.toThrow(/abort|cancel|stop/i);
  // The remote process group is killed (TERM, then KILL 0.3 s later), not left to run 30 s.
  await waitUntil(() => processesMatching(cmd).length === 0, 5_000, `'${cmd}' to be killed`);
  // The connection survives the cancellation: the next call works.
  const r = await scout.call({ target: `${h0}:${root0}`, query: "echo still-here" });
  expect(r.text.trim()).toBe("still-here");
}

describe("cancellation aborts the SSH work and kills the remote process", () => {
  it("over Streamable HTTP", async () => {
    await cancelRunningQuery(http);
  });

  it("over stdio", async () => {
    await cancelRunningQuery(stdio);
  });

  it("a cancelled broadcast kills the command on every host", async () => {
    const cmd = uniqueSleep();
    const ac = new AbortController();
    const call = http.client.callTool(
      { name: "scout", arguments: { targets: [`${h0}:${root0}`, `${h1}:${root1}`], query: cmd } },
      undefined,
      { signal: ac.signal },
    );
    call.catch(() => {});
    await waitUntil(() => processesMatching(cmd).length >= 2, 10_000, `'${cmd}' on both hosts`);
    ac.abort();
    await expect(call).rejects.toThrow();
    await waitUntil(() => processesMatching(cmd).length === 0, 5_000, `'${cmd}' to be killed everywhere`);
  });
});

function expectIncreasing(events: Progress[], total: number): void {
  expect(events.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < events.length; i++) {
    expect(events[i]!.progress).toBeGreaterThan(events[i - 1]!.progress);
  }
  const last = events.at(-1)!;
  expect(last.progress).toBe(total);
  expect(last.total).toBe(total);
  expect(last.message).toBe(`${total} bytes`);
}

describe("progress notifications for beam transfers", () => {
  it("remote-to-remote over Streamable HTTP", async () => {
    const events: Progress[] = [];
    const r = await http.client.callTool(
      {
        name: "scout",
        arguments: { beam_source: `${h0}:${root0}/big.bin`, beam_target: `${h1}:${root1}/copy.bin` },
      },
      undefined,
      { onprogress: (p) => events.push(p) },
    );
    expect(r.isError).toBeFalsy();
    expectIncreasing(events, SIZE);
    expect(readFileSync(join(root1, "copy.bin")).equals(readFileSync(join(root0, "big.bin")))).toBe(true);
  });

  it("upload over Streamable HTTP (inside SCOUT_BEAM_DIR)", async () => {
    const events: Progress[] = [];
    const r = await http.client.callTool(
      { name: "scout", arguments: { target: `${h1}:${root1}/up-http.bin`, beam: "up.bin" } },
      undefined,
      { onprogress: (p) => events.push(p) },
    );
    expect(r.isError).toBeFalsy();
    expectIncreasing(events, SIZE);
    expect(r.structuredContent).toMatchObject({ direction: "upload", bytes: SIZE });
  });

  it("download over stdio", async () => {
    const local = join(mkdtempSync(join(tmpdir(), "scout-dl-")), "down.bin");
    const events: Progress[] = [];
    const r = await stdio.client.callTool(
      { name: "scout", arguments: { target: `${h0}:${root0}/big.bin`, beam: local } },
      undefined,
      { onprogress: (p) => events.push(p) },
    );
    expect(r.isError).toBeFalsy();
    expectIncreasing(events, SIZE);
    expect(readFileSync(local).length).toBe(SIZE);
  });
});

describe("graceful shutdown in process", () => {
  it("stops accepting, answers the call in flight with an error, and kills its remote process", async () => {
    const s = await startHttpScout(lab);
    const cmd = uniqueSleep();
    const call = s.call({ target: `${h0}:${root0}`, query: cmd });
    await waitUntil(() => processesMatching(cmd).length > 0, 10_000, `'${cmd}' to start`);
    const stopping = s.server!.shutdown("test");
    // A new session can't start any more: refused at the socket, or 503 on a kept-alive one.
    const fresh = await fetch(s.url!, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(initializeRequest("late")),
    }).then(
      (r) => r.status,
      () => "refused",
    );
    expect([503, "refused"]).toContain(fresh);
    const r = await call;
    expect(r.isError).toBe(true);
    expect(r.text).toBe("Error: Scout is shutting down. Retry the call later");
    await stopping;
    // Normally gone by the time shutdown() resolves; generous for a loaded machine, where the kill
    // (a fresh exec channel, TERM, 0.3 s, KILL) can outlast the shutdown's grace.
    await waitUntil(() => processesMatching(cmd).length === 0, 5000, `'${cmd}' to be killed`);
    await s.client.close().catch(() => {});
  });
});
