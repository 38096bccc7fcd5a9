/**
 * Fuzz: thousands of generated hostile calls (targets, find patterns, diff specs, broadcast lists,
 * beam specs, parameter combinations and wrong types) against the real server and fleet. Every
 * payload that a shell would execute touches a file in a canary directory; afterwards that
 * directory must be empty, every answer must be an error or a correct result, and the server must
 * still serve. Seeded (SCOUT_FUZZ_SEED) so that a failure reproduces.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type LabFleet } from "../fleet/index.js";
import { assertHealthy, connectClient, startServer, type TestClient, type TestServer } from "./helpers.js";

const SEED = Number(process.env.SCOUT_FUZZ_SEED ?? 20261125);
const CALLS = Number(process.env.SCOUT_FUZZ_CALLS ?? 2000);
const IN_FLIGHT = 24;

/** mulberry32: small, fast, good enough to pick fuzz inputs reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let lab: LabFleet;
let srv: TestServer;
let c: TestClient;
let h0: string;
let root0: string;
let canary: string;

beforeAll(async () => {
  lab = await startFleet({ hosts: 1 });
  h0 = lab.hosts[0]!.alias;
  root0 = lab.hosts[0]!.root;
  canary = join(root0, "canary");
  await lab.writeFile(join(root0, "hello.txt"), "hello\n");
  await lab.writeFile(join(root0, "dir/a.txt"), "a\n");
  await lab.runAsUser(`mkdir -p '${canary}'`);
  // A short request deadline: a walk from a relative "../.." (the whole filesystem) is cut, not waited for.
  srv = await startServer(lab, {
    maxFileSize: 4096,
    maxOutputSize: 8192,
    commandTimeoutMs: 3000,
    requestTimeoutMs: 3000,
    httpJsonResponse: true, // plain JSON answers: less per-call overhead than an SSE stream each
  });
  c = await connectClient(srv.url);
});

afterAll(async () => {
  await c?.close();
  await srv?.close();
  await lab?.stop();
});

function generator(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  let serial = 0;
  // Each executed payload would leave a distinct file in the canary directory.
  const payload = (): string => {
    const f = `${canary}/pwned-${serial++}`;
    return pick([
      `$(touch ${f})`,
      "`touch " + f + "`",
      `; touch ${f}`,
      `;touch ${f};`,
      `| touch ${f}`,
      `|| touch ${f}`,
      `&& touch ${f}`,
      `\ntouch ${f}\n`,
      `\r\ntouch ${f}`,
      `'; touch ${f}; '`,
      `"; touch ${f}; "`,
      `'$(touch ${f})'`,
      `"$(touch ${f})"`,
      `$(IFS=,;touch\${IFS}${f})`,
      `\${IFS}touch\${IFS}${f}`,
      `> ${f}`,
      `>> ${f}`,
      `< /dev/null; touch ${f}`,
      `& touch ${f} &`,
      `\\'; touch ${f} #`,
      `$'\\x3btouch ${f}'`,
      `\u0000; touch ${f}`,
    ]);
  };
  const weird = (): string =>
    pick([
      "",
      " ",
      "..",
      "../..",
      "../../../../etc/passwd",
      "/./././",
      "//",
      "~",
      "~root",
      "~/../..",
      "*",
      "**/*",
      "[a-z]*",
      "{a,b}",
      "?",
      "-rf",
      "--",
      "-",
      "\u202e\u2066txt.exe",
      "\u200b\u200d\ufeff",
      "ünïcödé/日本語/😀",
      "\ud800",
      "\udfff\ud800",
      "%00",
      "%2e%2e%2f",
      "\\",
      "\\\\server\\share",
      "\t",
      "\x7f",
      "\x1b[2J",
      "a".repeat(300),
      "é".repeat(5000),
      "x".repeat(int(5) === 0 ? 200_000 : 5000),
      "'",
      '"',
      "`",
      "$",
      "$HOME",
      "${HOME}",
      "!!",
      "#",
      "%n%s%x",
      "NUL\0byte",
    ]);
  const fragment = (): string => (rand() < 0.45 ? payload() : weird());
  const hostPart = (): string =>
    rand() < 0.5
      ? h0
      : pick([
          "",
          "hosts",
          `${h0} `,
          `${h0}\n`,
          "nohost",
          `${h0}${fragment()}`,
          fragment(),
          "127.0.0.1",
          "-oProxyCommand=touch /tmp/x",
          "a:b",
          "x".repeat(300),
        ]);
  const pathPart = (): string => {
    const base = pick([root0, `${root0}/dir`, `${root0}/hello.txt`, `${root0}/nope`, ""]);
    const n = 1 + int(3);
    let p = base;
    for (let i = 0; i < n; i++) p += pick(["/", "", "/../", "/./"]) + fragment();
    return p;
  };
  const spec = (): string => (rand() < 0.1 ? fragment() : `${hostPart()}:${pathPart()}`);
  const wrongType = (): unknown =>
    pick<unknown>([
      123,
      -1,
      1.5,
      true,
      null,
      [],
      {},
      ["a"],
      { a: 1 },
      "x".repeat(10),
      [1, 2],
      { toString: "x" },
    ]);

  return (): Record<string, unknown> => {
    const args: Record<string, unknown> = {};
    const roll = rand();
    if (roll < 0.08) {
      // Wrong types: each key may get a value of the wrong kind.
      for (const k of [
        "target",
        "query",
        "tree",
        "find",
        "depth",
        "tail",
        "offset",
        "length",
        "targets",
        "sudo",
        "diff",
      ])
        if (rand() < 0.3) args[k] = wrongType();
      if (rand() < 0.3) args.unknown_param = fragment();
      return args;
    }
    args.target = rand() < 0.05 ? pick(["hosts", "HOSTS", " hosts "]) : spec();
    if (rand() < 0.25) args.query = pick(["true", "pwd", "echo ok", "ls >/dev/null"]);
    if (rand() < 0.15) args.find = fragment();
    if (rand() < 0.1) args.tree = true;
    if (rand() < 0.1) args.depth = 1 + int(10);
    if (rand() < 0.08) args.tail = 1 + int(100);
    if (rand() < 0.08) args.offset = int(100);
    if (rand() < 0.08) args.length = 1 + int(100);
    if (rand() < 0.08) args.diff = spec();
    if (rand() < 0.08) args.diff_content = fragment();
    if (rand() < 0.1) args.targets = Array.from({ length: int(6) }, spec);
    if (rand() < 0.05) args.beam = fragment();
    // Remote-to-remote: the destination host is never a real one, so nothing can be written.
    if (rand() < 0.05) args.beam_source = spec();
    if (rand() < 0.05) args.beam_target = `${pick(["nohost", "", fragment()])}:${pathPart()}`;
    if (rand() < 0.03) args.sudo = true;
    return args;
  };
}

describe("fuzz", () => {
  it(`${CALLS} hostile calls (seed ${SEED}): no crash, an Error: or a correct result each, the canary stays empty`, async () => {
    const next = generator(prng(SEED));
    const inputs = Array.from({ length: CALLS }, next);
    const problems: string[] = [];
    const counts = { error: 0, validation: 0, ok: 0 };
    let i = 0;
    const slow: Array<[number, string]> = [];
    const worker = async () => {
      while (i < inputs.length) {
        const n = i++;
        const args = inputs[n]!;
        const show = () => `#${n} (seed ${SEED}) ${JSON.stringify(args).slice(0, 300)}`;
        try {
          const t0 = performance.now();
          const r = await c.call(args);
          slow.push([performance.now() - t0, show()]);
          if (r.isError) {
            // Every refusal, schema validation included, is one of our "Error: " answers.
            if (r.text.startsWith("Error: Invalid arguments: ")) counts.validation++;
            else if (r.text.startsWith("Error: ")) counts.error++;
            else problems.push(`unexpected error text ${JSON.stringify(r.text.slice(0, 200))} for ${show()}`);
            continue;
          }
          counts.ok++;
          const sc = (r.structuredContent ?? {}) as { mode?: string; host?: string };
          if (!sc.mode) problems.push(`success without structuredContent.mode for ${show()}`);
          if (sc.host !== undefined && sc.host !== h0)
            problems.push(`success on unknown host ${sc.host} for ${show()}`);
          // A command ran where asked (a hostile, nonexistent directory is an "Error: Working directory not found").
          if (args.query === "echo ok" && sc.mode === "command" && r.text !== "ok")
            problems.push(`echo ok answered ${JSON.stringify(r.text.slice(0, 100))}: ${show()}`);
          if (args.query === "true" && sc.mode === "command" && r.text !== "(no output)")
            problems.push(`true answered ${JSON.stringify(r.text.slice(0, 100))}: ${show()}`);
          if (
            sc.mode === "read" &&
            typeof args.target === "string" &&
            /hello\.txt$/.test(String((r.structuredContent as { path?: string }).path)) &&
            args.tail === undefined &&
            args.offset === undefined &&
            args.length === undefined
          )
            if (r.text !== "hello\n")
              problems.push(`hello.txt read as ${JSON.stringify(r.text.slice(0, 100))}: ${show()}`);
        } catch (e) {
          problems.push(`call threw ${(e as Error).message.slice(0, 200)} for ${show()}`);
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz: ${CALLS} calls in ${seconds.toFixed(1)} s (seed ${SEED}): ${counts.error} Error:, ${counts.validation} schema-validation, ${counts.ok} results`,
    );
    const slowest = slow.sort((a, b) => b[0] - a[0])[0];
    if (slowest) console.log(`fuzz: slowest call ${slowest[0].toFixed(0)} ms: ${slowest[1].slice(0, 160)}`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(counts.error + counts.validation + counts.ok).toBe(CALLS);
    // Enough of each kind that the run means something.
    expect(counts.ok).toBeGreaterThan(CALLS / 50);
    expect(counts.validation).toBeGreaterThan(CALLS / 50);
    // No side effect on the host: nothing was executed, nothing was written.
    expect(readdirSync(canary)).toEqual([]);
    const stray = await lab.runAsUser(`find '${root0}' /tmp -maxdepth 3 -name 'pwned-*' 2>/dev/null`);
    expect(stray.stdout.trim()).toBe("");
    expect(await assertHealthy(srv.base, c, `${h0}:${root0}/hello.txt`)).toEqual({ health: 200, good: true });
  }, 180_000); // ~15-25 s alone; generous only so that a loaded CI machine doesn't fail it
});
