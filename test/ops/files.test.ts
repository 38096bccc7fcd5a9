/**
 * Read, stat, list, tree and find through a real Fleet (pool → connection → SFTP) on a lab host.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScoutError } from "../../src/errors.js";
import { listDirectory } from "../../src/ops/list.js";
import { readFile, statPath } from "../../src/ops/read.js";
import { find, tree } from "../../src/ops/walk.js";
import { startOpsLab, type OpsLab } from "./lab.js";

let ops: OpsLab;
let root: string;
const id = randomBytes(4).toString("hex");
const homeFile = `scout-ops-files-${id}.txt`;

beforeAll(async () => {
  ops = await startOpsLab();
  root = join(ops.lab.hosts[0]!.root, "files");
  const w = (rel: string, content: string | Buffer) => ops.lab.writeFile(join(root, rel), content);
  await Promise.all([
    w("cap/exact.txt", "a".repeat(1000)),
    w("cap/exact-multibyte.txt", "a".repeat(998) + "é"),
    w("cap/over-by-one.txt", "a".repeat(1001)),
    w("cap/cut-2byte.txt", "a" + "é".repeat(600)),
    w("cap/cut-4byte.txt", "ab" + "😀".repeat(300)),
    w("bin/nul.bin", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x02, 0x03])),
    w("bin/latin1.txt", Buffer.from("caf\xe9 cr\xe8me\n", "latin1")),
    w("lines.txt", Array.from({ length: 100 }, (_, i) => `${i + 1}`).join("\n") + "\n"),
    w("ls/b.txt", "bee\n"),
    w("ls/a.txt", "a\n"),
    w("ls/C.txt", "upper\n"),
    w("ls/d/inner.txt", "inner\n"),
    w("ls/$(touch pwned).txt", "dollar\n"),
    w("tree/top.txt", "top\n"),
    w("tree/a/b/c/d/e/f.txt", "deep\n"),
    w("tree/a/a.txt", "a\n"),
    ops.lab.writeFile(join(ops.lab.home, homeFile), "in the home directory\n"),
  ]);
  const r = await ops.lab.runAsUser(
    [
      `cd ${root}`,
      "ln -s a.txt ls/link",
      "ln -s /nowhere/at/all ls/dangling",
      "mkfifo ls/pipe",
      "ln -s . tree/loop",
      "ln -s .. tree/a/up",
      "mkdir huge && cd huge && seq -f 'entry-%05g-with-a-reasonably-long-name.txt' 1 20000 | xargs touch",
    ].join(" && "),
  );
  expect(r.stderr).toBe("");
});

afterAll(async () => {
  await rm(join(ops?.lab.home ?? "/nonexistent", homeFile), { force: true });
  await ops?.stop();
});

describe("readFile", () => {
  const cap = () => ops.limits({ maxFileSize: 1000 });

  it("a file of exactly the cap is returned whole and not flagged truncated", async () => {
    const r = await readFile(ops.host(), `${root}/cap/exact.txt`, cap());
    expect(r).toMatchObject({ truncated: false, binary: false, size: 1000, bytesRead: 1000 });
    expect(r.content).toBe("a".repeat(1000));
    const m = await readFile(ops.host(), `${root}/cap/exact-multibyte.txt`, cap());
    expect(m).toMatchObject({ truncated: false, binary: false });
    expect(m.content).toBe("a".repeat(998) + "é");
  });

  it("one byte over the cap is truncated at the cap", async () => {
    const r = await readFile(ops.host(), `${root}/cap/over-by-one.txt`, cap());
    expect(r).toMatchObject({ truncated: true, binary: false, size: 1001 });
    expect(r.content).toBe("a".repeat(1000));
  });

  it("cuts on a UTF-8 character boundary (2- and 4-byte characters)", async () => {
    const two = await readFile(ops.host(), `${root}/cap/cut-2byte.txt`, cap());
    expect(two).toMatchObject({ truncated: true, binary: false });
    // Byte 1000 falls inside the 500th "é": the cut drops the half character.
    expect(two.content).toBe("a" + "é".repeat(499));
    const four = await readFile(ops.host(), `${root}/cap/cut-4byte.txt`, cap());
    expect(four).toMatchObject({ truncated: true, binary: false });
    expect(four.content).toBe("ab" + "😀".repeat(249));
    expect(four.content).not.toContain("\ufffd");
  });

  it("reports binary content (NUL bytes, invalid UTF-8) instead of dumping it", async () => {
    const nul = await readFile(ops.host(), `${root}/bin/nul.bin`, ops.limits());
    expect(nul).toMatchObject({ binary: true, content: "", size: 8 });
    const latin1 = await readFile(ops.host(), `${root}/bin/latin1.txt`, ops.limits());
    expect(latin1).toMatchObject({ binary: true, content: "" });
  });

  it("resolves ~ and ~/x (and relative paths) to the remote home", async () => {
    const host = ops.host();
    const tilde = await readFile(host, `~/${homeFile}`, ops.limits());
    expect(tilde.content).toBe("in the home directory\n");
    expect(tilde.path).toBe(join(ops.lab.home, homeFile));
    const relative = await readFile(host, homeFile, ops.limits());
    expect(relative.path).toBe(tilde.path);
    const home = await statPath(host, "~");
    expect(home).toMatchObject({ path: ops.lab.home, type: "directory" });
    const listing = await listDirectory(host, "~", ops.limits());
    expect(listing.path).toBe(ops.lab.home);
    expect(listing.entries.map((e) => e.name)).toContain(homeFile);
  });

  it("refuses a FIFO at once instead of hanging on it", async () => {
    const started = performance.now();
    const err = await readFile(ops.host(), `${root}/ls/pipe`, ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(err, "not-a-file")).toBe(true);
    expect((err as Error).message).toMatch(/is a FIFO: not read/);
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await statPath(ops.host(), `${root}/ls/pipe`)).type).toBe("fifo");
  });

  it("a regular file replaced by a FIFO is refused and does not hang the session", async () => {
    const host = ops.host();
    const swap = await ops.lab.writeFile(join(root, "swap.txt"), "regular\n");
    // Read once: the session now knows it as a regular file and pipelines stat and open for it.
    expect((await readFile(host, swap, ops.limits())).content).toBe("regular\n");
    expect((await ops.lab.runAsUser(`rm ${swap} && mkfifo ${swap}`)).code).toBe(0);
    try {
      const started = performance.now();
      // Reads sent right behind it on the same session queue behind the blocked open on the server.
      const [err, ...behind] = await Promise.all([
        readFile(host, swap, ops.limits()).catch((e: unknown) => e),
        ...Array.from({ length: 5 }, () => readFile(host, `${root}/ls/a.txt`, ops.limits())),
      ]);
      expect(isScoutError(err, "not-a-file")).toBe(true);
      // The session that sent the open was given up: those reads were retried on a fresh session,
      // and later reads go on at once.
      expect(behind.map((r) => r.content)).toEqual(Array(5).fill("a\n"));
      const after = await Promise.all(
        Array.from({ length: 5 }, () => readFile(host, `${root}/ls/a.txt`, ops.limits())),
      );
      expect(after.map((r) => r.content)).toEqual(Array(5).fill("a\n"));
      expect(performance.now() - started).toBeLessThan(5000);
      // Known as a FIFO now: read again without any open (no new session given up).
      const again = await readFile(host, swap, ops.limits()).catch((e: unknown) => e);
      expect(isScoutError(again, "not-a-file")).toBe(true);
      expect((await readFile(host, `${root}/ls/b.txt`, ops.limits())).content).toBe("bee\n");
    } finally {
      // Unblock the server process of the retired session (it waits for a writer on the FIFO).
      await ops.lab.runAsUser(`timeout 2 sh -c ': > ${swap}'; rm -f ${swap}`);
    }
  });

  it("reads files whose size is unknown (procfs) until EOF", async () => {
    const r = await readFile(ops.host(), "/proc/version", ops.limits());
    expect(r.size).toBe(0);
    expect(r.content).toMatch(/^Linux version /);
    expect(r.truncated).toBe(false);
  });

  it("says what is wrong for a directory and a missing path", async () => {
    const dir = await readFile(ops.host(), `${root}/ls`, ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(dir, "not-a-file")).toBe(true);
    expect((dir as Error).message).toBe(`${root}/ls is a directory`);
    const missing = await readFile(ops.host(), `${root}/nope.txt`, ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(missing, "not-found")).toBe(true);
    expect((missing as Error).message).toContain(`${root}/nope.txt`);
  });

  it("reads the last lines and byte ranges without reading the whole file", async () => {
    const t = await readFile(ops.host(), `${root}/lines.txt`, ops.limits(), { tail: 3 });
    expect(t.content).toBe("98\n99\n100\n");
    const r = await readFile(ops.host(), `${root}/lines.txt`, ops.limits(), { offset: 2, length: 6 });
    expect(r.content).toBe("2\n3\n4\n");
    expect(r.range).toEqual({ offset: 2, length: 6 });
  });

  it("reads names that would be shell syntax literally (SFTP never meets a shell)", async () => {
    const r = await readFile(ops.host(), `${root}/ls/$(touch pwned).txt`, ops.limits());
    expect(r.content).toBe("dollar\n");
    const err = await readFile(ops.host(), `${root}/ls/a\ntouch pwned`, ops.limits()).catch(
      (e: unknown) => e,
    );
    expect(isScoutError(err, "invalid-input")).toBe(true);
    const listing = await listDirectory(ops.host(), "~", ops.limits());
    expect(listing.entries.map((e) => e.name)).not.toContain("pwned");
  });

  it("closes every read handle soon after the read, with no further request to carry the CLOSE", async () => {
    const file = `${root}/lines.txt`;
    await Promise.all(Array.from({ length: 40 }, () => readFile(ops.host(), file, ops.limits())));
    for (let i = 0; i < 5; i++) await readFile(ops.host(), file, ops.limits());
    // The CLOSEs wait up to 20 ms for a request to ride with; none comes.
    await new Promise((r) => setTimeout(r, 300));
    expect(openersOf(file)).toEqual([]);
  });
});

/** Processes (as "pid:fd") that hold `file` open, from /proc (the tests run as root). */
function openersOf(file: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) found.push(`${pid}:${fd}`);
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

describe("listDirectory", () => {
  it("is ls -la-like: sorted, type, permissions, owner, size, mtime, symlink targets", async () => {
    const r = await listDirectory(ops.host(), `${root}/ls`, ops.limits());
    const names = r.entries.map((e) => e.name);
    expect(names).toEqual(["$(touch pwned).txt", "C.txt", "a.txt", "b.txt", "d", "dangling", "link", "pipe"]);
    const by = new Map(r.entries.map((e) => [e.name, e]));
    expect(by.get("a.txt")).toMatchObject({
      type: "file",
      size: 2,
      owner: ops.lab.user,
      permissions: "-rw-r--r--",
    });
    expect(by.get("d")).toMatchObject({ type: "directory" });
    expect(by.get("d")!.permissions).toMatch(/^d/);
    expect(by.get("link")).toMatchObject({ type: "symlink", linkTarget: "a.txt" });
    expect(by.get("dangling")).toMatchObject({ type: "symlink", linkTarget: "/nowhere/at/all" });
    expect(by.get("pipe")!.permissions).toMatch(/^p/);
    expect(Math.abs(by.get("a.txt")!.mtime.getTime() - Date.now())).toBeLessThan(10 * 60_000);

    const lines = r.text.split("\n");
    expect(lines[0]).toBe("total 8");
    expect(lines).toHaveLength(9);
    expect(lines.find((l) => l.endsWith(" link -> a.txt"))).toMatch(/^lrwxrwxrwx\s+1 \S+\s+\S+/);
    expect(lines.find((l) => l.endsWith(" a.txt"))).toMatch(
      new RegExp(`^-rw-r--r--\\s+1 ${ops.lab.user}\\s+\\S+\\s+2 \\w{3}\\s+\\d+\\s+[\\d:]+ a\\.txt$`),
    );
    expect(r.omitted).toBe(0);
  });

  it("stops a huge directory (20k entries) at the output cap and says how many were left out", async () => {
    const limits = ops.limits();
    const r = await listDirectory(ops.host(), `${root}/huge`, limits);
    expect(r.total).toBe(20_000);
    // READDIRs go out several at a time: no batch lost or repeated.
    expect(new Set(r.entries.map((e) => e.name)).size).toBe(20_000);
    expect(r.omitted).toBeGreaterThan(0);
    const lines = r.text.split("\n");
    const note = lines.at(-1)!;
    expect(note).toBe(
      `[… ${r.omitted} more entries not shown: output capped at ${limits.maxOutputSize} bytes]`,
    );
    const shown = lines.slice(1, -1);
    expect(shown).toHaveLength(20_000 - r.omitted);
    expect(Buffer.byteLength(lines.slice(0, -1).join("\n"))).toBeLessThanOrEqual(limits.maxOutputSize);
    // The entries shown are the first ones in sorted order.
    expect(shown[0]).toMatch(/ entry-00001-with-a-reasonably-long-name\.txt$/);
    expect(shown.at(-1)).toMatch(new RegExp(` entry-${String(shown.length).padStart(5, "0")}-`));
  });

  it("fails clearly for a missing directory", async () => {
    const err = await listDirectory(ops.host(), `${root}/missing`, ops.limits()).catch((e: unknown) => e);
    expect(isScoutError(err, "not-found")).toBe(true);
  });
});

describe("tree", () => {
  it("walks to depth 3 by default, shows symlinks without following them", async () => {
    const r = await tree(ops.host(), `${root}/tree`, ops.limits());
    expect(r.text.split("\n")).toEqual([
      `${root}/tree`,
      "├── a",
      "│   ├── a.txt",
      "│   ├── b",
      "│   │   └── c",
      "│   └── up -> ..",
      "├── loop -> .",
      "└── top.txt",
      "",
      "3 directories, 4 files",
    ]);
    expect(r.truncated).toBe(false);
  });

  it("honors a smaller depth and caps the output", async () => {
    const one = await tree(ops.host(), `${root}/tree`, ops.limits(), { depth: 1 });
    expect(one.text.split("\n").slice(1, 4)).toEqual(["├── a", "├── loop -> .", "└── top.txt"]);
    const cap = root.length + 40;
    const capped = await tree(ops.host(), `${root}/tree`, ops.limits({ maxOutputSize: cap }));
    expect(capped.truncated).toBe(true);
    const lines = capped.text.split("\n");
    expect(lines.slice(0, 4)).toEqual([`${root}/tree`, "├── a", "│   ├── a.txt", ""]);
    expect(lines.at(-1)).toBe(`[tree output capped at ${cap} bytes; use a smaller depth or a subdirectory]`);
    const bad = await tree(ops.host(), root, ops.limits(), { depth: 0 }).catch((e: unknown) => e);
    expect(isScoutError(bad, "invalid-input")).toBe(true);
  });
});

describe("find", () => {
  it("matches names to depth 5 by default and never follows symlink loops", async () => {
    const r = await find(ops.host(), `${root}/tree`, "*.txt", ops.limits());
    // f.txt is 6 levels down: beyond the default depth of 5.
    expect(r.matches).toEqual([`${root}/tree/a/a.txt`, `${root}/tree/top.txt`]);
    const deeper = await find(ops.host(), `${root}/tree`, "*.txt", ops.limits(), { depth: 6 });
    expect(deeper.matches).toEqual([
      `${root}/tree/a/a.txt`,
      `${root}/tree/a/b/c/d/e/f.txt`,
      `${root}/tree/top.txt`,
    ]);
    // "loop -> ." and "up -> .." would repeat everything if they were followed.
    const all = await find(ops.host(), `${root}/tree`, "*", ops.limits(), { depth: 10 });
    expect(all.matches.filter((m) => m.endsWith("/top.txt"))).toHaveLength(1);
    expect(all.matches).toContain(`${root}/tree/loop`);
    const dirs = await find(ops.host(), `${root}/tree`, "?", ops.limits(), { type: "d", depth: 10 });
    expect(dirs.matches).toEqual(
      ["a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e"].map((d) => `${root}/tree/${d}`),
    );
  });

  it("stops at the output cap", async () => {
    const cap = 3 * (root.length + 20);
    const r = await find(ops.host(), `${root}/tree`, "*", ops.limits({ maxOutputSize: cap }), { depth: 10 });
    expect(r.truncated).toBe(true);
    expect(r.matches.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(r.matches.join("\n"))).toBeLessThanOrEqual(cap);
  });
});
