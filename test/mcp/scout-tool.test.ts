import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { startHttpScout, startStdioScout, type ScoutUnderTest } from "./harness.js";

let lab: LabFleet;
let scout: ScoutUnderTest;
let h0: string;
let h1: string;
let root0: string;
let root1: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 3 });
  h0 = lab.hosts[0]!.alias;
  h1 = lab.hosts[1]!.alias;
  root0 = lab.hosts[0]!.root;
  root1 = lab.hosts[1]!.root;
  await lab.writeFile(join(root0, "hello.txt"), "hello\nworld\n");
  await lab.writeFile(join(root1, "hello.txt"), "hello\nthere\n");
  await lab.writeFile(join(root0, "same.txt"), "same\n");
  await lab.writeFile(join(root1, "same.txt"), "same\n");
  await lab.writeFile(join(root0, "bin.dat"), Buffer.from([0, 1, 2, 3, 255, 0, 10]));
  await lab.writeFile(join(root0, "big.txt"), "x".repeat(3000));
  await lab.writeFile(
    join(root0, "app.log"),
    Array.from({ length: 500 }, (_, i) => `line ${i + 1}`).join("\n") + "\n",
  );
  await lab.writeFile(join(root0, "proj/src/main.py"), "print(1)\n");
  await lab.writeFile(join(root0, "proj/src/util.py"), "x = 1\n");
  await lab.writeFile(join(root0, "proj/README.md"), "# p\n");
  scout = await startHttpScout(lab, { maxFileSize: 1000 });
});

afterAll(async () => {
  await scout?.close();
  await lab?.stop();
});

describe("scout tool over Streamable HTTP", () => {
  it("lists hosts with online status", async () => {
    const r = await scout.call({ target: "hosts" });
    expect(r.isError).toBeFalsy();
    expect(r.text.split("\n")[0]).toBe("Available hosts:");
    expect(r.text).toContain(`  [✓] ${h0} (online) -> ${lab.user}@127.0.0.1:${lab.hosts[0]!.port}`);
    expect(r.structuredContent).toMatchObject({ mode: "hosts" });
  });

  it("reads a file", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/hello.txt` });
    expect(r.text).toBe("hello\nworld\n");
    expect(r.structuredContent).toMatchObject({
      mode: "read",
      host: h0,
      kind: "file",
      size: 12,
      truncated: false,
    });
  });

  it("marks truncation at the file cap", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/big.txt` });
    expect(r.text).toBe("x".repeat(1000) + "\n\n[truncated at 1000 bytes]");
    expect(r.structuredContent).toMatchObject({ truncated: true, size: 3000 });
  });

  it("reports binary files instead of dumping them", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/bin.dat` });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(/[Bb]inary/);
    expect(r.text).not.toContain("\u0000");
    expect(r.structuredContent).toMatchObject({ binary: true });
  });

  it("resolves ~ to the remote home", async () => {
    await lab.writeFile(join(lab.home, ".scout-home-marker"), "home!\n");
    const r = await scout.call({ target: `${h0}:~/.scout-home-marker` });
    expect(r.text).toBe("home!\n");
  });

  it("lists a directory ls -la style", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/proj` });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(/^d.* src$/m);
    expect(r.text).toMatch(/README\.md/);
    expect(r.structuredContent).toMatchObject({ mode: "list", kind: "directory" });
  });

  it("shows a tree", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/proj`, tree: true });
    expect(r.text).toContain("main.py");
    expect(r.text).toMatch(/[├└]── /);
  });

  it("finds files by glob, or says none match", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/proj`, find: "*.py" });
    expect(r.text.split("\n").sort()).toEqual([`${root0}/proj/src/main.py`, `${root0}/proj/src/util.py`]);
    const none = await scout.call({ target: `${h0}:${root0}/proj`, find: "*.rs" });
    expect(none.text).toBe(`No files matching '*.rs' found in ${root0}/proj`);
  });

  it("runs a command in the target directory with pipes", async () => {
    const r = await scout.call({ target: `${h0}:${root0}`, query: "ls | grep hello" });
    expect(r.text.trim()).toBe("hello.txt");
    expect(r.structuredContent).toMatchObject({ mode: "command", exitCode: 0 });
  });

  it("shows stderr and the exit code", async () => {
    const r = await scout.call({ target: `${h0}:${root0}`, query: "echo out; echo err >&2; exit 3" });
    expect(r.text).toContain("out");
    expect(r.text).toContain("[stderr]\nerr");
    expect(r.text).toContain("[exit code: 3]");
    expect(r.structuredContent).toMatchObject({ exitCode: 3 });
  });

  it("diffs a file across hosts", async () => {
    const d = await scout.call({ target: `${h0}:${root0}/hello.txt`, diff: `${h1}:${root1}/hello.txt` });
    expect(d.text).toContain("-world");
    expect(d.text).toContain("+there");
    const same = await scout.call({ target: `${h0}:${root0}/same.txt`, diff: `${h1}:${root1}/same.txt` });
    expect(same.text).toBe(`Files are identical:\n  ${h0}:${root0}/same.txt\n  ${h1}:${root1}/same.txt`);
  });

  it("diffs against expected content", async () => {
    const ok = await scout.call({ target: `${h0}:${root0}/same.txt`, diff_content: "same\n" });
    expect(ok.text).toBe(`File matches expected content: ${root0}/same.txt`);
    const diff = await scout.call({ target: `${h0}:${root0}/same.txt`, diff_content: "other\n" });
    expect(diff.text).toContain("-other");
    expect(diff.text).toContain("+same");
  });

  it("broadcasts a read and a command, each host with its own result", async () => {
    const r = await scout.call({
      targets: [`${h0}:${root0}/hello.txt`, `${h1}:${root1}/hello.txt`, "nohost:/x"],
    });
    expect(r.text).toContain("hello\nworld");
    expect(r.text).toContain("hello\nthere");
    expect(r.text).toContain("[FAILED]");
    expect(r.text).toContain("─── 2/3 hosts succeeded ───");
    const q = await scout.call({ targets: [`${h0}:${root0}`, `${h1}:${root1}`], query: "echo hi; exit 1" });
    // A failed command keeps its output (the Python original dropped it).
    expect(q.text.match(/hi/g)?.length).toBe(2);
    expect(q.text).toContain("─── 0/2 hosts succeeded ───");
  });

  it("returns the last lines of a big file and byte ranges", async () => {
    const t = await scout.call({ target: `${h0}:${root0}/app.log`, tail: 3 });
    expect(t.text).toContain("line 498\nline 499\nline 500");
    expect(t.text).not.toContain("line 497\n");
    expect(t.structuredContent).toMatchObject({ size: readFileSync(join(root0, "app.log")).length });
    const b = await scout.call({ target: `${h0}:${root0}/hello.txt`, offset: 6, length: 5 });
    const [header, ...body] = b.text.split("\n");
    expect(header).toBe(`[${root0}/hello.txt: bytes 6-11 of 12]`);
    expect(body.join("\n")).toBe("world");
  });

  it("transfers remote to remote", async () => {
    await lab.writeFile(join(root0, "payload.bin"), Buffer.alloc(300_000, 7));
    const r = await scout.call({
      beam_source: `${h0}:${root0}/payload.bin`,
      beam_target: `${h1}:${root1}/copied.bin`,
    });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(/^✓ Streamed /);
    expect(readFileSync(join(root1, "copied.bin")).equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it("refuses local beam over HTTP without SCOUT_BEAM_DIR", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/hello.txt`, beam: "/etc/passwd" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: .*SCOUT_BEAM_DIR/);
  });
});

describe("errors", () => {
  it("unknown host lists the available ones", async () => {
    const r = await scout.call({ target: "nope:/etc/hosts" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Error: Unknown host 'nope'\. Available: /);
    expect(r.text).toContain(h0);
  });

  it("missing path", async () => {
    const r = await scout.call({ target: `${h0}:${root0}/does-not-exist` });
    expect(r.isError).toBe(true);
    expect(r.text).toContain(`Error: Path not found: ${root0}/does-not-exist`);
    // A command in a directory that does not exist never runs, and says so as an error.
    const q = await scout.call({ target: `${h0}:${root0}/does-not-exist`, query: "echo ran" });
    expect(q.isError).toBe(true);
    expect(q.text).toMatch(
      new RegExp(`^Error: Working directory not found: ${root0}/does-not-exist; the command was not run`),
    );
  });

  it("malformed targets are rejected before any SSH traffic", async () => {
    for (const target of ["no-colon", ":/path", "a;b:/x", `${h0}:`]) {
      const r = await scout.call({ target });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/^Error: /);
    }
  });

  it("invalid parameter combinations", async () => {
    const both = await scout.call({
      target: `${h0}:/x`,
      beam: "/tmp/x",
      beam_source: `${h0}:/a`,
      beam_target: `${h1}:/b`,
    });
    expect(both.text).toMatch(/^Error: Cannot use both 'beam' and 'beam_source\/beam_target'/);
    const half = await scout.call({ beam_source: `${h0}:/a` });
    expect(half.text).toBe("Error: beam_source requires beam_target to be specified.");
    const hostsBeam = await scout.call({ target: "hosts", beam: "/tmp/x" });
    expect(hostsBeam.text).toBe("Error: beam parameter requires a valid host:/path target, not 'hosts'");
  });

  it("wrong argument types get an Error: answer naming the parameter; an unknown tool is -32602", async () => {
    const wrong = await scout.call({ target: 42, depth: 50, targets: "web1:/" });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toMatch(/^Error: Invalid arguments: /);
    for (const field of ["target: ", "depth: ", "targets: "]) expect(wrong.text).toContain(field);
    expect(wrong.text).toMatch(/See the scout tool's input schema/);
    expect(wrong.text).not.toMatch(/MCP error|-32602/);
    // A tool that does not exist is a protocol error (MCP 2025-11-25 and 2026-07-28), not a result.
    const unknown = await scout.client.callTool({ name: "cat", arguments: {} }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; message?: string },
    );
    expect(unknown?.code).toBe(-32602);
    expect(unknown?.message).toContain("Unknown tool 'cat'. This server has one tool: scout");
    // The server is still fine.
    expect((await scout.call({ target: "hosts" })).isError).toBeFalsy();
  });

  it("hostile characters in paths execute nothing", async () => {
    const canary = join(root0, "canary");
    await lab.runAsUser(`mkdir -p ${canary}`);
    for (const p of [
      `'$(touch ${canary}/a)'`,
      "`touch " + canary + "/b`",
      `x; touch ${canary}/c`,
      `x\ntouch ${canary}/d`,
    ]) {
      const r = await scout.call({ target: `${h0}:${root0}/${p}`, query: "true" });
      expect(r.isError || /exit code|can't cd|No such/.test(r.text)).toBeTruthy();
      await scout.call({ target: `${h0}:${root0}/${p}` });
    }
    const ls = await lab.runAsUser(`ls -A ${canary}`);
    expect(ls.stdout.trim()).toBe("");
  });
});

describe("tool metadata", () => {
  it("has annotations, a schema, and a small tools/list", async () => {
    const { tools } = await scout.client.listTools();
    expect(tools).toHaveLength(1);
    const t = tools[0]!;
    expect(t.name).toBe("scout");
    expect(t.annotations).toMatchObject({ readOnlyHint: false, openWorldHint: true });
    expect(Object.keys((t.inputSchema as { properties: object }).properties)).toEqual(
      expect.arrayContaining([
        "target",
        "query",
        "tree",
        "find",
        "depth",
        "diff",
        "diff_content",
        "targets",
        "beam",
        "beam_source",
        "beam_target",
      ]),
    );
    // ~4 characters per token: well under 3k tokens.
    expect(JSON.stringify({ tools }).length).toBeLessThan(8000);
  });
});

describe("resources", () => {
  it("hosts://list", async () => {
    const r = await scout.client.readResource({ uri: "hosts://list" });
    const text = (r.contents[0] as { text: string }).text;
    expect(text.startsWith("Available SSH Hosts\n" + "=".repeat(40))).toBe(true);
    expect(text).toContain(`scout://${h0}/path/to/file`);
  });

  it("scout://host/path and host://path read files and list directories", async () => {
    const a = await scout.client.readResource({ uri: `scout://${h0}${root0}/hello.txt` });
    expect((a.contents[0] as { text: string }).text).toBe("hello\nworld\n");
    const b = await scout.client.readResource({ uri: `${h0}://${root0.slice(1)}/hello.txt` });
    expect((b.contents[0] as { text: string }).text).toBe("hello\nworld\n");
    const d = await scout.client.readResource({ uri: `scout://${h0}${root0}/proj` });
    expect((d.contents[0] as { text: string }).text).toMatch(/^# Directory: /);
  });

  it("docker on a host without docker says it is not available", async () => {
    const e = await scout.client.readResource({ uri: `${h0}://docker` }).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(Error);
    expect(String((e as Error).message)).toMatch(/not available on host/);
  });

  it("syslog reads the last lines or says it is not available", async () => {
    const r = await scout.client.readResource({ uri: `${h0}://syslog` }).catch((x: unknown) => x as Error);
    if (r instanceof Error) expect(r.message).toMatch(/not available on host/);
    else expect((r.contents[0] as { text: string }).text).toMatch(/^# System Logs: /);
  });

  it("rejects hostile names in resource URIs before any shell", async () => {
    const e = await scout.client
      .readResource({ uri: `${h0}://docker/a;touch%20x/logs` })
      .catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(Error);
  });

  it("lists the templates once for all hosts, {host} completed with the aliases", async () => {
    const { resourceTemplates } = await scout.client.listResourceTemplates();
    const uris = resourceTemplates.map((t) => t.uriTemplate);
    expect(uris).toContain("scout://{host}/{+path}");
    expect(uris).toContain("{host}://{+path}");
    const done = await scout.client.complete({
      ref: { type: "ref/resource", uri: "{host}://{+path}" },
      argument: { name: "host", value: h0.slice(0, 2) },
    });
    expect(done.completion.values).toContain(h0);
  });
});

describe("stdio transport", () => {
  it("serves the same tool, with local beam allowed", async () => {
    const s = await startStdioScout(lab);
    try {
      const r = await s.call({ target: `${h0}:${root0}/hello.txt` });
      expect(r.text).toBe("hello\nworld\n");
      const dir = mkdtempSync(join(tmpdir(), "scout-beam-"));
      const local = join(dir, "down.txt");
      const down = await s.call({ target: `${h0}:${root0}/hello.txt`, beam: local });
      expect(down.text).toMatch(/^✓ Downloaded /);
      expect(readFileSync(local, "utf8")).toBe("hello\nworld\n");
      const up = join(dir, "up.txt");
      writeFileSync(up, "uploaded\n");
      const r2 = await s.call({ target: `${h0}:${root1}/up.txt`, beam: up });
      expect(r2.text).toMatch(/^✓ Uploaded /);
      expect(existsSync(join(root1, "up.txt"))).toBe(true);
    } finally {
      await s.close();
    }
  });
});
