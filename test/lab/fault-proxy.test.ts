import { randomBytes } from "node:crypto";
import net from "node:net";
import { Client, type ConnectConfig } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy, startFleet, type LabFleet } from "../fleet/index.js";

function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.on("error", reject); // on, not once: a timeout can be followed by "connection lost"
    client.connect(config);
  });
}

function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Writes `data` and resolves with the time until `expected` bytes have come back. */
function roundTrip(
  socket: net.Socket,
  data: Buffer,
  expected = data.length,
): Promise<{ ms: number; got: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const started = performance.now();
    const onData = (d: Buffer) => {
      chunks.push(d);
      total += d.length;
      if (total >= expected) {
        socket.off("data", onData);
        resolve({ ms: performance.now() - started, got: Buffer.concat(chunks) });
      }
    };
    socket.on("data", onData);
    socket.write(data);
  });
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

let echo: net.Server;
let echoPort: number;
let lab: LabFleet;

beforeAll(async () => {
  echo = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
  lab = await startFleet({ hosts: 1 });
});

afterAll(async () => {
  await lab?.stop();
  await new Promise((r) => echo?.close(r));
});

describe("FaultProxy latency", () => {
  it("adds latencyMs in each direction (a TCP round trip through 20 ms takes >= 40 ms)", async () => {
    const proxy = await FaultProxy.start({ targetPort: echoPort, latencyMs: 20 });
    const socket = await tcpConnect(proxy.port);
    try {
      await roundTrip(socket, Buffer.from("warm-up"));
      for (let i = 0; i < 3; i++) {
        const { ms, got } = await roundTrip(socket, Buffer.from(`ping ${i}`));
        expect(got.toString()).toBe(`ping ${i}`);
        expect(ms).toBeGreaterThanOrEqual(40);
        expect(ms).toBeLessThan(40 + 400); // generous: CI boxes stall, but it must not pile up
      }
      proxy.latencyMs = 0; // settable at runtime
      const fast = await roundTrip(socket, Buffer.from("fast"));
      expect(fast.ms).toBeLessThan(40);
    } finally {
      socket.destroy();
      await proxy.close();
    }
  });

  it("delays each chunk from its own arrival (not cumulatively) and keeps byte order", async () => {
    const proxy = await FaultProxy.start({ targetPort: echoPort, latencyMs: 25 });
    const socket = await tcpConnect(proxy.port);
    try {
      const payload = randomBytes(2 * 1024 * 1024);
      const chunks: Buffer[] = [];
      let total = 0;
      const started = performance.now();
      const done = new Promise<number>((resolve) =>
        socket.on("data", (d: Buffer) => {
          chunks.push(d);
          total += d.length;
          if (total >= payload.length) resolve(performance.now() - started);
        }),
      );
      // Many small writes spread over time, while the latency changes under them.
      for (let off = 0; off < payload.length; off += 64 * 1024) {
        socket.write(payload.subarray(off, off + 64 * 1024));
        if (off === 512 * 1024) proxy.latencyMs = 5;
        if (off === 1024 * 1024) proxy.latencyMs = 30;
        await new Promise((r) => setImmediate(r));
      }
      const ms = await done;
      expect(Buffer.concat(chunks).equals(payload)).toBe(true);
      // 32 chunks each delayed 2 × ≤30 ms: cumulative delays would take well over a second.
      expect(ms).toBeLessThan(1000);
    } finally {
      socket.destroy();
      await proxy.close();
    }
  });

  it("slows an ssh2 handshake through a 15 ms proxy noticeably compared to direct", async () => {
    const direct = async () => {
      const started = performance.now();
      const client = await connect(lab.connectConfig(0));
      client.end();
      return performance.now() - started;
    };
    await direct(); // warm-up (JIT, sshd caches)
    const directMs = Math.min(await direct(), await direct());
    const proxy = await lab.proxy(0, { latencyMs: 15 });
    try {
      const started = performance.now();
      const client = await connect({ ...lab.connectConfig(0), port: proxy.port });
      const proxiedMs = performance.now() - started;
      client.end();
      // The handshake needs several round trips of 30 ms each.
      expect(proxiedMs).toBeGreaterThan(directMs + 60);
    } finally {
      await proxy.close();
    }
  });
});

describe("FaultProxy faults", () => {
  it("blackhole: TCP connects but the SSH handshake never completes", async () => {
    const proxy = await lab.proxy(0);
    proxy.blackhole = true;
    try {
      const socket = await tcpConnect(proxy.port);
      socket.destroy();
      const started = performance.now();
      const err = await connect({ ...lab.connectConfig(0), port: proxy.port, readyTimeout: 1000 }).catch(
        (e: Error & { level?: string }) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error & { level?: string }).level).toBe("client-timeout");
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      expect(proxy.accepted).toBe(2);
      // New connections after blackhole is lifted are forwarded again.
      proxy.blackhole = false;
      const client = await connect({ ...lab.connectConfig(0), port: proxy.port });
      client.end();
    } finally {
      await proxy.close();
    }
  });

  it("refuse: new connections get ECONNREFUSED until it is lifted, on the same port", async () => {
    const proxy = await lab.proxy(0);
    try {
      proxy.refuse = true;
      expect(proxy.refuse).toBe(true);
      await expect(tcpConnect(proxy.port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
      await expect(connect({ ...lab.connectConfig(0), port: proxy.port })).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
      expect(proxy.accepted).toBe(0);
      proxy.refuse = false;
      await proxy.ready();
      const client = await connect({ ...lab.connectConfig(0), port: proxy.port });
      client.end();
      expect(proxy.accepted).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("refuse leaves live connections alone", async () => {
    const proxy = await FaultProxy.start({ targetPort: echoPort });
    const socket = await tcpConnect(proxy.port);
    try {
      proxy.refuse = true;
      expect((await roundTrip(socket, Buffer.from("still here"))).got.toString()).toBe("still here");
    } finally {
      socket.destroy();
      await proxy.close();
    }
  });

  it("cutAll: a live ssh2 connection is closed", async () => {
    const proxy = await lab.proxy(0);
    try {
      const client = await connect({ ...lab.connectConfig(0), port: proxy.port });
      let errored = false;
      client.on("error", () => (errored = true));
      const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
      expect(proxy.open).toBe(1);
      proxy.cutAll();
      await closed;
      expect(errored).toBe(true); // a reset, not an orderly end
      expect(proxy.open).toBe(0);

      const again = await connect({ ...lab.connectConfig(0), port: proxy.port });
      const closedAgain = new Promise<void>((resolve) => again.once("close", () => resolve()));
      again.on("error", () => {});
      proxy.cutAll("close");
      await closedAgain;
    } finally {
      await proxy.close();
    }
  });

  it("counts accepted, open and maxOpen, and resetCounters() restarts them", async () => {
    const proxy = await FaultProxy.start({ targetPort: echoPort });
    try {
      const sockets = await Promise.all([1, 2, 3].map(() => tcpConnect(proxy.port)));
      await until(() => proxy.open === 3);
      expect(proxy.accepted).toBe(3);
      expect(proxy.maxOpen).toBe(3);
      sockets[0]!.destroy();
      await until(() => proxy.open === 2);
      expect(proxy.maxOpen).toBe(3);
      proxy.resetCounters();
      expect(proxy.accepted).toBe(0);
      expect(proxy.maxOpen).toBe(2);
      const more = await tcpConnect(proxy.port);
      await until(() => proxy.open === 3);
      expect(proxy.accepted).toBe(1);
      expect(proxy.maxOpen).toBe(3);
      for (const s of [...sockets, more]) s.destroy();
      await until(() => proxy.open === 0);
    } finally {
      await proxy.close();
    }
  });

  it("an unreachable target resets the client", async () => {
    const proxy = await FaultProxy.start({ targetPort: lab.hosts[0]!.port });
    await lab.hosts[0]!.stop();
    try {
      const err = await connect({ ...lab.connectConfig(0), port: proxy.port }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      await until(() => proxy.open === 0);
    } finally {
      await lab.hosts[0]!.start();
      await proxy.close();
    }
  });

  it("close() is idempotent and frees the port", async () => {
    const proxy = await FaultProxy.start({ targetPort: echoPort });
    const socket = await tcpConnect(proxy.port);
    const socketClosed = new Promise((r) => socket.once("close", r));
    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    await socketClosed;
    await expect(tcpConnect(proxy.port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
