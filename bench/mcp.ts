/**
 * bench:mcp — warm 4 KB reads through `scout` over Streamable HTTP from a lean keep-alive
 * JSON-RPC client (node:http Agent, initialize once, then raw tools/call POSTs), at concurrency 1
 * and 32, side by side in the same run with (a) a minimal SDK server whose tool returns 4 KB of
 * constant text and (b) raw ssh2 SFTP. Servers run as separate processes, as in production; both
 * answer modes (SSE stream, plain JSON) are measured. Then cold connects and a warm read behind a
 * 30 ms RTT proxy. Prints tables and the targets; never fails on numbers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { startFleet } from "../src/lab/index.js";
import { descendantsOf } from "../src/lab/processes.js";
import type { SshConfigEntry } from "../src/lab/index.js";
import { fmt, measure, percentile, printTable, type RunStats } from "./lib.js";
import { rawRead, rawSsh, sleep } from "./support.js";

const N = Number(process.env.BENCH_N ?? 3000);
// Scout as shipped: the built dist/ (`npm run bench:mcp` builds first), run by plain node.
const MAIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const MIN_SERVER = fileURLToPath(new URL("./min-sdk-server.mjs", import.meta.url));
const MIN_V2_SERVER = fileURLToPath(new URL("./min-sdk-v2-server.mjs", import.meta.url));
/** The 2026-07-28 `_meta` envelope every modern request carries (no initialize, no session). */
const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
};
const RTT = 30;

// ---- processes ---------------------------------------------------------------------------------

const children: ChildProcess[] = [];

/** Starts a server process and resolves with the MCP URL it reports (stdout or a JSON log line). */
function startServer(args: string[], env: Record<string, string>): Promise<{ url: string; pid: number }> {
  // BENCH_PROFILE=dir: CPU profiles of the servers (written when they exit) for `node --cpu-prof`.
  const prof = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...prof, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(seen);
      if (m?.[1]) resolve({ url: m[1], pid: child.pid! });
      if (seen.length > 100_000) seen = seen.slice(-1000);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`${args.join(" ")} exited with ${code}: ${seen.slice(-2000)}`)),
    );
  });
}

// ---- the lean client ---------------------------------------------------------------------------

interface RpcResponse {
  result?: { content?: Array<{ text?: string }>; isError?: boolean };
  error?: { message: string };
}

class LeanClient {
  private readonly agent: Agent;
  private readonly url: URL;
  private session = "";
  private nextId = 1;

  /** modern: 2026-07-28 requests (envelope, Mcp-Method/Mcp-Name headers, no session). */
  constructor(
    url: string,
    sockets: number,
    private readonly modern = false,
  ) {
    this.url = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  private post(message: {
    jsonrpc: string;
    id?: number;
    method?: string;
    params?: Record<string, unknown>;
  }): Promise<{ headers: Record<string, string | string[] | undefined>; body: string }> {
    const modern = this.modern && message.params !== undefined;
    const payload = JSON.stringify(
      modern ? { ...message, params: { ...message.params, _meta: MODERN_META } } : message,
    );
    const name = message.params?.name;
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "content-length": Buffer.byteLength(payload),
            "mcp-protocol-version": this.modern ? "2026-07-28" : "2025-06-18",
            ...(this.session ? { "mcp-session-id": this.session } : {}),
            ...(this.modern && message.method ? { "mcp-method": message.method } : {}),
            ...(this.modern && typeof name === "string" ? { "mcp-name": name } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** The JSON-RPC response in a plain JSON body or in an SSE stream's `data:` lines. */
  private static parse(body: string): RpcResponse {
    const t = body.trimStart();
    if (t.startsWith("{")) return JSON.parse(t) as RpcResponse;
    for (const line of body.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const msg = JSON.parse(line.slice(5)) as RpcResponse & { id?: unknown };
      if (msg.id !== undefined) return msg;
    }
    throw new Error(`no JSON-RPC response in: ${body.slice(0, 200)}`);
  }

  async initialize(): Promise<void> {
    if (this.modern) return; // stateless: nothing to set up
    const r = await this.post({
      jsonrpc: "2.0",
      id: this.nextId++,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    });
    this.session = String(r.headers["mcp-session-id"] ?? "");
    if (!this.session) throw new Error(`initialize gave no session: ${r.body.slice(0, 200)}`);
    await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<string> {
    const r = await this.post({
      jsonrpc: "2.0",
      id: this.nextId++,
      method: "tools/call",
      params: { name, arguments: args },
    });
    const msg = LeanClient.parse(r.body);
    if (msg.error || msg.result?.isError) {
      throw new Error(`tools/call failed: ${msg.error?.message ?? msg.result?.content?.[0]?.text}`);
    }
    return msg.result?.content?.[0]?.text ?? "";
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---- main --------------------------------------------------------------------------------------

/** Fields of /proc/<pid>/stat after "pid (comm)" (comm may hold spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU time (user + system) a process has used, in µs; /proc counts in clock ticks (100 Hz). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** CPU (µs) of a process and of its reaped children: utime + stime + cutime + cstime. */
function cpuWithChildrenMicros(pid: number): number {
  try {
    const f = statFields(pid);
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10_000;
  } catch {
    return 0; // exited between the listing and the read
  }
}

/**
 * CPU used so far by the lab's sshds: each listener with its reaped per-connection processes, plus
 * the per-connection processes still alive (pooled connections). Deltas of this are what the
 * handshakes of a trial cost on the server side, which here shares the client's two cores.
 */
function sshdCpuMicros(listeners: number[]): number {
  let total = 0;
  for (const pid of [...listeners, ...descendantsOf(listeners)]) total += cpuWithChildrenMicros(pid);
  return total;
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function main(): Promise<void> {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` (npm run bench:mcp does)`);
  const lab = await startFleet({ hosts: 2, maxSessions: 64 });
  try {
    const content = "log line 0123456789 abcdefghij\n".repeat(132).slice(0, 4096);
    const file = await lab.writeFile("bench-4k.txt", content);

    // Aliases: one direct host, one warm host at 30 ms RTT, and fresh cold hosts at 30 ms RTT.
    const proxies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => lab.proxy(i % 2, { latencyMs: RTT / 2 })),
    );
    const TRIALS = 3;
    const entries: SshConfigEntry[] = [
      { alias: "direct", port: lab.hosts[0]!.port },
      { alias: "rtt30", port: proxies[0]!.port },
    ];
    for (let t = 0; t < TRIALS; t++) {
      entries.push({ alias: `one-${t}`, port: proxies[t % 10]!.port });
      for (let i = 0; i < 10; i++) entries.push({ alias: `ten-${t}-${i}`, port: proxies[i]!.port });
    }
    const config = await lab.writeSshConfig(entries, "bench_ssh_config");
    const scoutEnv = (json: boolean) => ({
      SCOUT_SSH_CONFIG: config,
      SCOUT_KNOWN_HOSTS: lab.knownHostsPath,
      SCOUT_HTTP_JSON_RESPONSE: json ? "true" : "false",
      SCOUT_STATUS_CACHE_TTL: "0",
    });
    const [scoutSse, scoutJson, minSse, minJson, minV2] = await Promise.all([
      startServer([MAIN, "--http", "--port", "0"], scoutEnv(false)),
      startServer([MAIN, "--http", "--port", "0"], scoutEnv(true)),
      startServer([MIN_SERVER], { BENCH_JSON_RESPONSE: "0" }),
      startServer([MIN_SERVER], { BENCH_JSON_RESPONSE: "1" }),
      startServer([MIN_V2_SERVER], {}),
    ]);

    const raw = await rawSsh(lab.connectConfig(0));
    if ((await rawRead(raw.sftp, file)).toString() !== content) throw new Error("raw read mismatch");

    const rows: string[][] = [];
    const scoutRate: Record<string, Record<number, RunStats>> = { sse: {}, json: {} };
    const minRate: Record<string, Record<number, RunStats>> = { sse: {}, json: {} };
    const rawRate: Record<number, RunStats> = {};
    const modernRate: Record<"scout" | "min", Record<number, RunStats>> = { scout: {}, min: {} };
    for (const conc of [1, 32]) {
      const clients = {
        scoutSse: new LeanClient(scoutSse.url, conc),
        scoutJson: new LeanClient(scoutJson.url, conc),
        minSse: new LeanClient(minSse.url, conc),
        minJson: new LeanClient(minJson.url, conc),
        minV2: new LeanClient(minV2.url, conc, true),
        scoutModern: new LeanClient(scoutSse.url, conc, true),
      };
      for (const c of Object.values(clients)) await c.initialize();
      const scoutArgs = { target: `direct:${file}` };
      for (const c of [clients.scoutSse, clients.scoutJson, clients.scoutModern]) {
        if ((await c.callTool("scout", scoutArgs)) !== content) throw new Error("scout read mismatch");
      }
      const warm = Math.min(N, 1500); // past V8's tiering, for every server alike
      const runs: Array<[string, () => Promise<unknown>, (s: RunStats) => void, number | undefined]> = [
        ["(b) raw ssh2 SFTP", () => rawRead(raw.sftp, file), (s) => (rawRate[conc] = s), undefined],
        [
          "(a) minimal SDK server, SSE",
          () => clients.minSse.callTool("read", { target: "x" }),
          (s) => (minRate.sse![conc] = s),
          minSse.pid,
        ],
        [
          "(a) minimal SDK server, JSON",
          () => clients.minJson.callTool("read", { target: "x" }),
          (s) => (minRate.json![conc] = s),
          minJson.pid,
        ],
        [
          "(c) minimal SDK v2 server, 2026-07-28",
          () => clients.minV2.callTool("read", { target: "x" }),
          (s) => (modernRate.min[conc] = s),
          minV2.pid,
        ],
        [
          "Scout, 2026-07-28 (stateless)",
          () => clients.scoutModern.callTool("scout", scoutArgs),
          (s) => (modernRate.scout[conc] = s),
          scoutSse.pid,
        ],
        [
          "Scout, SSE responses",
          () => clients.scoutSse.callTool("scout", scoutArgs),
          (s) => (scoutRate.sse![conc] = s),
          scoutSse.pid,
        ],
        [
          "Scout, JSON responses",
          () => clients.scoutJson.callTool("scout", scoutArgs),
          (s) => (scoutRate.json![conc] = s),
          scoutJson.pid,
        ],
      ];
      for (const [name, op, keep, pid] of runs) {
        await measure(warm, conc, op); // JIT, sockets, channels
        const cpu0 = cpuMicros(pid);
        const s = await measure(N, conc, op);
        const cpuPerReq = (cpuMicros(pid) - cpu0) / N;
        keep(s);
        rows.push([String(conc), name, fmt(s.perSecond), fmt(s.p50, 3), fmt(s.p99, 3), fmt(cpuPerReq, 0)]);
      }
      for (const c of Object.values(clients)) c.close();
    }
    printTable(
      `Warm 4 KB reads, ${N} per run, lean keep-alive JSON-RPC client over Streamable HTTP`,
      ["conc", "server", "req/s", "p50 ms", "p99 ms", "CPU µs/req ¹"],
      rows,
    );
    process.stdout.write(
      "¹ CPU of the server process (utime + stime); for raw SFTP, of this process (client side).\n" +
        "  On a loaded machine, latency at concurrency 1 is mostly waiting for a CPU: a Scout call\n" +
        "  wakes three processes in turn (client, Scout, sshd), the baselines two.\n",
    );

    const targetRows: string[][] = [];
    for (const conc of [1, 32]) {
      for (const mode of ["sse", "json"] as const) {
        const scout = scoutRate[mode]![conc]!.perSecond;
        const baseline = Math.min(minRate[mode]![conc]!.perSecond, rawRate[conc]!.perSecond);
        targetRows.push([
          String(conc),
          mode.toUpperCase(),
          fmt(scout),
          `${fmt((100 * scout) / baseline, 0)}%`,
          scout >= 1000 ? "yes" : "no",
          scout >= 0.5 * baseline ? "yes" : "no",
        ]);
      }
    }
    const modernRows = [1, 32].map((conc) => {
      const scout = modernRate.scout[conc]!.perSecond;
      const min = modernRate.min[conc]!.perSecond;
      return [
        String(conc),
        fmt(scout),
        fmt(min),
        `${fmt((100 * scout) / min, 0)}%`,
        scout >= 0.8 * min ? "yes" : "no",
      ];
    });
    printTable(
      "Target (2026-07-28): Scout's warm reads ≥ 80% of the minimal SDK v2 server (c)",
      ["conc", "Scout req/s", "(c) req/s", "Scout / (c)", "≥80%"],
      modernRows,
    );
    printTable(
      "Targets: ≥ 1000 req/s and ≥ 50% of min(a, b)",
      ["conc", "Scout mode", "req/s", "% of min(a,b)", "≥1000", "≥50%"],
      targetRows,
    );

    // Cold connects at 30 ms RTT: one host, then ten at once (one broadcast call), fresh aliases.
    const cold = new LeanClient(scoutSse.url, 4);
    await cold.initialize();
    const listeners = lab.hosts.map((h) => h.pid).filter((p): p is number => p !== undefined);
    const sshdCpu = {
      one: [] as number[],
      ten: [] as number[],
      rawOne: [] as number[],
      rawTen: [] as number[],
    };
    /** Runs `fn`, records its wall time and the sshds' CPU meanwhile (ms). */
    const timed = async (times: number[], cpu: number[], fn: () => Promise<unknown>) => {
      const c0 = sshdCpuMicros(listeners);
      const s = performance.now();
      const out = await fn();
      times.push(performance.now() - s);
      await sleep(200); // let the server side of the handshakes finish its accounting
      cpu.push((sshdCpuMicros(listeners) - c0) / 1000);
      return out;
    };
    const one: number[] = [];
    const ten: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      await timed(one, sshdCpu.one, () => cold.callTool("scout", { target: `one-${t}:${file}` }));
      const out = (await timed(ten, sshdCpu.ten, () =>
        cold.callTool("scout", { targets: Array.from({ length: 10 }, (_, i) => `ten-${t}-${i}:${file}`) }),
      )) as string;
      if (!out.includes("10/10 hosts succeeded")) throw new Error(`broadcast failed: ${out.slice(-300)}`);
    }
    // The same cold work with raw ssh2 (connect, SFTP, read), to tell Scout from the machine.
    const rawCold = async (i: number) => {
      // Proxy i forwards to lab host i % 2: that host's key.
      const c = await rawSsh({ ...lab.connectConfig(i % 2), port: proxies[i]!.port });
      await rawRead(c.sftp, file);
      c.client.end();
    };
    const rawOne: number[] = [];
    const rawTen: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      await timed(rawOne, sshdCpu.rawOne, () => rawCold(t % 10));
      await timed(rawTen, sshdCpu.rawTen, () => Promise.all(proxies.map((_, i) => rawCold(i))));
    }
    // Warm read at 30 ms RTT, in round trips.
    await cold.callTool("scout", { target: `rtt30:${file}` });
    const warm30 = await measure(20, 1, () => cold.callTool("scout", { target: `rtt30:${file}` }));
    const rawSlow = await rawSsh({ ...lab.connectConfig(0), port: proxies[0]!.port });
    await rawRead(rawSlow.sftp, file);
    const raw30 = await measure(20, 1, () => rawRead(rawSlow.sftp, file));
    cold.close();
    printTable(
      `At ${RTT} ms RTT (fault proxy), medians of ${TRIALS} trials with fresh hosts`,
      ["measurement", "ms", "ratio / round trips", "target", "sshd CPU ms ²"],
      [
        [
          "one cold host (connect + read)",
          fmt(median(one)),
          `${fmt(median(one) / RTT)} RTT`,
          "",
          fmt(median(sshdCpu.one), 0),
        ],
        [
          "ten cold hosts at once (broadcast read)",
          fmt(median(ten)),
          `${fmt(median(ten) / median(one))}× one`,
          "≤ 1.5×",
          fmt(median(sshdCpu.ten), 0),
        ],
        [
          "raw ssh2: one cold host (connect, SFTP, read)",
          fmt(median(rawOne)),
          `${fmt(median(rawOne) / RTT)} RTT`,
          "",
          fmt(median(sshdCpu.rawOne), 0),
        ],
        [
          "raw ssh2: ten cold hosts at once",
          fmt(median(rawTen)),
          `${fmt(median(rawTen) / median(rawOne))}× one`,
          "",
          fmt(median(sshdCpu.rawTen), 0),
        ],
        ["warm read through Scout (p50)", fmt(warm30.p50), `${fmt(warm30.p50 / RTT)} RTT`, "≤ 2.5 RTT", ""],
        ["warm raw ssh2 sftp.readFile (p50)", fmt(raw30.p50), `${fmt(raw30.p50 / RTT)} RTT`, "", ""],
      ],
    );
    const cores = availableParallelism();
    process.stdout.write(
      `² CPU the lab's sshds used during the trial (100 Hz accounting: rough). They run on the\n` +
        `  client's ${cores} cores: about sshd CPU / ${cores} (${fmt(median(sshdCpu.ten) / cores, 0)} ms for ten hosts) of the broadcast is\n` +
        "  servers' work competing with the client; in a real fleet each sshd has its own machine.\n",
    );
    raw.client.end();
    rawSlow.client.end();
  } finally {
    await Promise.all(
      children.map(
        (c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.once("exit", r), c.kill("SIGTERM")))),
      ),
    );
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  for (const c of children) c.kill("SIGKILL");
  process.exit(1);
});
