/**
 * What may be done and what happened, end to end: read-only mode, the policy file (refusals name
 * the rule and come before any SSH traffic, counted at a fault proxy), path normalization and
 * control characters, human confirmation through MCP elicitation, output caps on broadcast and
 * resources, and the audit log.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultProxy } from "../../src/lab/fault-proxy.js";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { rawHttp } from "../mcp/harness.js";
import { captureLogger, connectClient, rawRequest, startServer, type TestClient } from "./helpers.js";

let lab: LabFleet;
let h0: string;
let h1: string;
let root0: string;
let root1: string;
let good: string;
let local: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 2 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
  await lab.writeFile(join(root0, "secret/key.pem"), "KEY\n");
  good = `${h0}:${root0}/hello.txt`;
  local = mkdtempSync(join(tmpdir(), "scout-guard-beam-"));
  writeFileSync(join(local, "up.txt"), "uploaded\n");
});

afterAll(async () => {
  await lab?.stop();
});

describe("SCOUT_READ_ONLY", () => {
  it("refuses commands, sudo, uploads and remote-to-remote writes; reads and downloads work; annotations say read-only", async () => {
    const srv = await startServer(lab, { readOnly: true, beamDir: local });
    const c = await connectClient(srv.url);
    try {
      const { tools } = await c.client.listTools();
      expect(tools[0]!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
      const q = await c.call({ target: `${h0}:${root0}`, query: `touch ${root0}/ro-marker` });
      expect(q.text).toMatch(/^Error: Read-only mode: commands are disabled/);
      const s = await c.call({ target: `${h0}:${root0}`, query: "id -u", sudo: true });
      expect(s.text).toMatch(/^Error: Read-only mode: sudo commands are disabled/);
      const b = await c.call({ targets: [`${h0}:${root0}`, `${h1}:${root1}`], query: `touch ro-marker` });
      expect(b.text).toContain("Read-only mode: commands are disabled");
      expect(b.text).toContain("─── 0/2 hosts succeeded ───");
      const up = await c.call({ target: `${h0}:${root0}/up.txt`, beam: join(local, "up.txt") });
      expect(up.text).toMatch(/^Error: Read-only mode: uploads are disabled/);
      const r2r = await c.call({ beam_source: good, beam_target: `${h1}:${root1}/copy.txt` });
      expect(r2r.text).toMatch(/^Error: Read-only mode: remote-to-remote transfers are disabled/);
      expect(existsSync(join(root0, "ro-marker"))).toBe(false);
      expect(existsSync(join(root1, "ro-marker"))).toBe(false);
      expect(existsSync(join(root0, "up.txt"))).toBe(false);
      expect(existsSync(join(root1, "copy.txt"))).toBe(false);
      // Reads and downloads (nothing changes on a host) still work.
      expect((await c.call({ target: good })).text).toBe("hello\n");
      const down = await c.call({ target: good, beam: join(local, "down.txt") });
      expect(down.text).toMatch(/^✓ Downloaded /);
      expect(readFileSync(join(local, "down.txt"), "utf8")).toBe("hello\n");
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe("SCOUT_POLICY_FILE", () => {
  let proxy: FaultProxy;
  let c: TestClient;
  let close: () => Promise<void>;

  beforeAll(async () => {
    proxy = await lab.proxy(0);
    const config = await lab.writeSshConfig([
      { alias: "web1", port: proxy.port },
      { alias: "db1", port: lab.hosts[1]!.port },
    ]);
    const policyFile = join(lab.dir, "policy.yaml");
    writeFileSync(
      policyFile,
      [
        "hosts:",
        '  "web*":',
        `    commands: { allow: ["ls*", "cat *", "echo *"], deny: ["*rm *"] }`,
        `    paths: { allow: ["${root0}/**", "/tmp/**"], deny: ["${root0}/secret/**"] }`,
        '  "*":',
        '    commands: { deny: ["*reboot*", "*sudo*"] }',
        "",
      ].join("\n"),
    );
    const srv = await startServer(lab, { sshConfigPath: config, policyFile });
    c = await connectClient(srv.url);
    close = async () => {
      await c.close();
      await srv.close();
    };
  });

  afterAll(async () => {
    await close?.();
  });

  it("refuses before any SSH traffic and names the rule; '..' is normalized first", async () => {
    proxy.resetCounters();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { target: `web1:${root0}`, query: "ls; rm -rf /" },
        /^Error: Policy refused command 'ls; rm -rf \/' on web1: matches deny rule '\*rm \*' for hosts 'web\*'/,
      ],
      [
        { target: `web1:${root0}`, query: "whoami" },
        /^Error: Policy refused command 'whoami' on web1: not in the allow list of host rule 'web\*'\. Allowed: ls\*, cat \*, echo \*/,
      ],
      [{ target: `web1:${root0}`, query: "ls", sudo: true }, /deny rule '\*sudo\*' for hosts '\*'/],
      [
        { target: `db1:${root1}`, query: "sudo reboot" },
        /on db1: matches deny rule '\*reboot\*' for hosts '\*'/,
      ],
      [
        { target: `web1:${root0}/secret/key.pem` },
        /^Error: Policy refused path '.*\/secret\/key\.pem' on web1: matches deny rule/,
      ],
      [
        { target: `web1:${root0}/public/../secret/./key.pem` },
        new RegExp(`^Error: Policy refused path '${root0}/secret/key\\.pem' on web1: matches deny rule`),
      ],
      [
        { target: `web1:/tmp/../etc/shadow` },
        /^Error: Policy refused path '\/etc\/shadow' on web1: not in the allow list/,
      ],
      [{ target: `web1:/etc/passwd` }, /not in the allow list of host rule 'web\*'/],
    ];
    for (const [args, re] of cases) {
      const r = await c.call(args);
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(r.text).toMatch(re);
    }
    const b = await c.call({ targets: [`web1:${root0}/secret/key.pem`, `web1:/etc/hosts`], query: "cat x" });
    expect(b.text.match(/Policy refused path/g)).toHaveLength(2);
    const d = await c.call({ target: `web1:${root0}/hello.txt`, diff: `web1:${root0}/secret/key.pem` });
    expect(d.text).toMatch(/^Error: Policy refused path/);
    const r2r = await c.call({ beam_source: `web1:${root0}/secret/key.pem`, beam_target: `db1:${root1}/k` });
    expect(r2r.text).toMatch(/^Error: Policy refused path/);
    // Resources obey the same path rules: a URI is no way around a deny rule, `..` included.
    for (const uri of [
      `scout://web1${root0}/secret/key.pem`,
      `scout://web1${root0}/public/../secret/key.pem`,
    ]) {
      await expect(c.client.readResource({ uri }), uri).rejects.toThrow(
        /Policy refused path '.*\/secret\/key\.pem' on web1/,
      );
    }
    // Not a single connection reached the host behind the proxy.
    expect(proxy.accepted).toBe(0);
    // An allowed call does go through it (so the count above means something).
    const ok = await c.call({ target: `web1:${root0}`, query: "cat hello.txt" });
    expect(ok.text).toBe("hello");
    expect(proxy.accepted).toBeGreaterThan(0);
  });

  it("NUL bytes and control characters in paths and hosts are rejected before any SSH traffic", async () => {
    proxy.resetCounters();
    for (const [target, re] of [
      [`web1:${root0}/a\0b`, /^Error: Path contains null byte: '.*a\\x00b'/],
      [`web1:${root0}/a\x07b`, /^Error: Path contains control characters: '.*a\\x07b'/],
      [`web1:${root0}/a\nb`, /^Error: Path contains control characters/],
      [`web1:${root0}/a\x1b[31mb`, /^Error: Path contains control characters/],
      [`we\x00b1:/tmp`, /^Error: Host contains invalid characters/],
      [`we\rb1:/tmp`, /^Error: Host contains invalid characters/],
    ] as const) {
      const r = await c.call({ target });
      expect(r.isError, JSON.stringify(target)).toBe(true);
      expect(r.text).toMatch(re);
    }
    expect(proxy.accepted).toBe(0);
  });
});

describe("SCOUT_CONFIRM_COMMANDS (MCP elicitation)", () => {
  it("asks before a command or an upload: accept runs it, decline doesn't, a client without elicitation is refused", async () => {
    const srv = await startServer(lab, { confirmCommands: true, beamDir: local });
    const asked: string[] = [];
    let answer: "accept" | "decline" | "cancel" | "accept-false" = "accept";
    const withElicit = await connectClient(srv.url, {
      onElicit: (message) => {
        asked.push(message);
        if (answer === "accept") return { action: "accept", content: { confirm: true } };
        if (answer === "accept-false") return { action: "accept", content: { confirm: false } };
        return { action: answer };
      },
    });
    const without = await connectClient(srv.url);
    try {
      // Reads never ask.
      expect((await withElicit.call({ target: good })).text).toBe("hello\n");
      expect(asked).toHaveLength(0);

      const ran = await withElicit.call({
        target: `${h0}:${root0}`,
        query: "echo confirmed > confirm-a; cat confirm-a",
      });
      expect(ran.text).toBe("confirmed");
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain(`Run this command on ${h0} in ${root0}?`);
      expect(asked[0]).toContain("echo confirmed > confirm-a; cat confirm-a");

      // Accept is the answer (no checkbox to leave unticked): only decline and cancel refuse.
      for (const a of ["decline", "cancel"] as const) {
        answer = a;
        const r = await withElicit.call({ target: `${h0}:${root0}`, query: `touch confirm-${a}` });
        expect(r.isError).toBe(true);
        expect(r.text).toMatch(
          a === "cancel"
            ? /^Error: The user cancelled the confirmation; nothing was run/
            : /^Error: The user declined the confirmation; nothing was run/,
        );
        expect(existsSync(join(root0, `confirm-${a}`))).toBe(false);
      }

      answer = "decline";
      const up = await withElicit.call({ target: `${h0}:${root0}/up.txt`, beam: join(local, "up.txt") });
      expect(up.text).toMatch(/^Error: The user declined/);
      expect(asked.at(-1)).toMatch(/^Upload .*up\.txt to /);
      expect(existsSync(join(root0, "up.txt"))).toBe(false);
      answer = "accept";
      const up2 = await withElicit.call({ target: `${h0}:${root0}/up.txt`, beam: join(local, "up.txt") });
      expect(up2.text).toMatch(/^✓ Uploaded /);
      expect(readFileSync(join(root0, "up.txt"), "utf8")).toBe("uploaded\n");

      const b = await withElicit.call({ targets: [`${h0}:${root0}`, `${h1}:${root1}`], query: "echo bcast" });
      expect(b.text).toContain("─── 2/2 hosts succeeded ───");
      expect(asked.at(-1)).toMatch(/^Run this command on 2 targets/);

      // Fail closed: no elicitation capability, nothing runs.
      const n = asked.length;
      const refused = await without.call({ target: `${h0}:${root0}`, query: "touch confirm-nocap" });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(
        /^Error: Confirmation required \(SCOUT_CONFIRM_COMMANDS\) but this client cannot ask its user/,
      );
      expect(existsSync(join(root0, "confirm-nocap"))).toBe(false);
      const refusedUp = await without.call({ target: `${h1}:${root1}/up.txt`, beam: join(local, "up.txt") });
      expect(refusedUp.text).toMatch(/^Error: Confirmation required/);
      expect(existsSync(join(root1, "up.txt"))).toBe(false);
      expect(asked).toHaveLength(n);
      expect((await without.call({ target: good })).text).toBe("hello\n");
    } finally {
      await withElicit.close();
      await without.close();
      await srv.close();
    }
  });
});

describe("SCOUT_CONFIRM_COMMANDS over SSE answers", () => {
  it("asks on the tool call's own stream: no GET stream needed", async () => {
    const srv = await startServer(lab, { confirmCommands: true });
    const raw = rawHttp(srv.url);
    try {
      await (await raw.initialize({ elicitation: {} })).text();
      await raw.post({ jsonrpc: "2.0", method: "notifications/initialized" });
      const call = await raw.post({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "scout", arguments: { target: `${h0}:${root0}`, query: "echo asked-on-post" } },
      });
      // Read the call's SSE stream: first the question, then (after our answer) the result.
      const reader = call.body!.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      const nextMessage = async (): Promise<{ id?: number; method?: string; result?: unknown }> => {
        for (;;) {
          const line = buffered.split("\n").find((l) => l.startsWith("data: "));
          if (line) {
            buffered = buffered.slice(buffered.indexOf(line) + line.length);
            return JSON.parse(line.slice(6)) as { id?: number; method?: string };
          }
          const { value, done } = await reader.read();
          if (done) throw new Error("stream ended");
          buffered += decoder.decode(value, { stream: true });
        }
      };
      const question = await nextMessage();
      expect(question.method).toBe("elicitation/create");
      const answered = await raw.post({
        jsonrpc: "2.0",
        id: question.id,
        result: { action: "accept", content: { confirm: true } },
      });
      expect(answered.status).toBe(202);
      const result = (await nextMessage()) as { id: number; result: { content: Array<{ text: string }> } };
      expect(result.id).toBe(2);
      expect(result.result.content[0]!.text).toBe("asked-on-post");
    } finally {
      await srv.close();
    }
  });
});

describe("SCOUT_CONFIRM_COMMANDS with SCOUT_HTTP_JSON_RESPONSE", () => {
  it("asks over the session's GET stream, since a JSON answer can't carry the question", async () => {
    const srv = await startServer(lab, { confirmCommands: true, httpJsonResponse: true });
    const asked: string[] = [];
    const c = await connectClient(srv.url, {
      onElicit: (message) => {
        asked.push(message);
        return { action: "accept", content: { confirm: true } };
      },
    });
    try {
      const ran = await c.call({ target: `${h0}:${root0}`, query: "echo asked-over-get" });
      expect(ran.text).toBe("asked-over-get");
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain("echo asked-over-get");

      // A client that can elicit but never opened a GET stream: refused at once, not after a timeout.
      const raw = rawHttp(srv.url);
      await raw.initialize({ elicitation: {} });
      await raw.post({ jsonrpc: "2.0", method: "notifications/initialized" });
      const started = performance.now();
      const res = await raw.post({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "scout", arguments: { target: `${h0}:${root0}`, query: "touch confirm-no-get" } },
      });
      const answer = (await res.json()) as { result: { isError: boolean; content: Array<{ text: string }> } };
      expect(performance.now() - started).toBeLessThan(5000);
      expect(answer.result.isError).toBe(true);
      expect(answer.result.content[0]!.text).toMatch(
        /^Error: Asking the user for confirmation failed \(.*no open GET stream.*\); nothing was run/,
      );
      expect(existsSync(join(root0, "confirm-no-get"))).toBe(false);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe("output caps", () => {
  it("a broadcast to 100 targets can't return 100 × the cap; resources are capped too", async () => {
    const cap = 16 * 1024;
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await lab.writeFile(join(root0, `big/${i}.txt`), `${i}:`.padEnd(cap, "a"));
        await lab.writeFile(join(root1, `big/${i}.txt`), `${i}:`.padEnd(cap, "b"));
      }),
    );
    const srv = await startServer(lab, { maxOutputSize: cap, maxFileSize: cap });
    const c = await connectClient(srv.url);
    try {
      const targets = Array.from({ length: 100 }, (_, i) =>
        i % 2 ? `${h1}:${root1}/big/${i >> 1}.txt` : `${h0}:${root0}/big/${i >> 1}.txt`,
      );
      const r = await c.call({ targets });
      expect(r.text).toContain("─── 100/100 hosts succeeded ───");
      // The whole answer stays within the cap: full sections while they fit, then a line per host.
      expect(r.text).toMatch(
        new RegExp(`\\[\\d+ of 100 hosts did not fit in ${cap} bytes: one line each\\]`),
      );
      expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(cap);
      const q = await c.call({
        targets,
        query: "cat $(basename $PWD)/../*.txt 2>/dev/null | head -c 100000",
      });
      expect(Buffer.byteLength(q.text)).toBeLessThanOrEqual(cap);

      await lab.writeFile(join(root0, "huge.txt"), "z".repeat(cap * 4));
      const res = await c.client.readResource({ uri: `scout://${h0}${root0}/huge.txt` });
      const text = (res.contents[0] as { text: string }).text;
      expect(text.startsWith("z".repeat(cap))).toBe(true);
      expect(text).toContain(`[truncated at ${cap} bytes]`);
      expect(Buffer.byteLength(text)).toBeLessThan(cap + 200);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});

describe("SCOUT_AUDIT_LOG", () => {
  it("one JSON line per call with time, client, host, mode, path, command, exit code, bytes, duration, outcome", async () => {
    const auditLog = join(lab.dir, "audit", "scout.jsonl");
    const srv = await startServer(lab, { auditLog, apiKeys: ["audit-key"], rateLimitPerMinute: 5 });
    const c = await connectClient(srv.url, { headers: { authorization: "Bearer audit-key" } });
    try {
      await c.call({ target: good });
      await c.call({ target: `${h0}:${root0}`, query: "echo out; exit 3" });
      await c.call({ target: `${h0}:${root0}/missing` });
      await c.call({ target: "nohost:/x" });
      await c.call({ target: "hosts" });
      await c.call({ target: good }); // 6th: rate limited
    } finally {
      await c.close();
      await srv.close();
    }
    const records = readFileSync(auditLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(6);
    for (const r of records) {
      expect(Date.parse(String(r.time))).toBeGreaterThan(Date.now() - 120_000);
      expect(r.client).toMatch(/^key:[0-9a-f]{8}$/);
      expect(typeof r.bytes).toBe("number");
      expect(typeof r.durationMs).toBe("number");
    }
    expect(records[0]).toMatchObject({
      mode: "read",
      host: h0,
      path: `${root0}/hello.txt`,
      bytes: 6,
      outcome: "ok",
    });
    expect(records[1]).toMatchObject({
      mode: "command",
      host: h0,
      path: root0,
      command: "echo out; exit 3",
      exitCode: 3,
      outcome: "ok",
    });
    expect(records[2]).toMatchObject({
      mode: "read",
      host: h0,
      outcome: "error",
      error: expect.stringMatching(/Path not found/),
    });
    expect(records[3]).toMatchObject({
      outcome: "error",
      error: expect.stringMatching(/Unknown host 'nohost'/),
    });
    expect(records[4]).toMatchObject({ mode: "hosts", outcome: "ok" });
    expect(records[5]).toMatchObject({
      outcome: "rejected",
      error: expect.stringMatching(/rate limit exceeded/),
    });
    expect(readFileSync(auditLog, "utf8")).not.toContain("audit-key");
  });

  it("a failure to write the audit log is logged loudly, and calls keep working", async () => {
    const cap = captureLogger();
    const dirAsFile = mkdtempSync(join(tmpdir(), "scout-audit-")); // a directory: opening it for append fails
    const srv = await startServer(lab, { auditLog: dirAsFile }, cap.log);
    const c = await connectClient(srv.url);
    try {
      expect((await c.call({ target: good })).text).toBe("hello\n");
      expect((await c.call({ target: good })).text).toBe("hello\n");
      await new Promise((r) => setTimeout(r, 200));
      const failures = cap.records().filter((r) => r.msg === "audit log write failed");
      expect(failures.length).toBeGreaterThanOrEqual(1);
      expect(failures[0]).toMatchObject({
        level: "error",
        path: dirAsFile,
        err: expect.stringMatching(/EISDIR/),
      });
      expect((await rawRequest(srv.base, "/health")).status).toBe(200);
    } finally {
      await c.close();
      await srv.close();
    }
  });
});
