import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A fresh machine: installs sshd & co. as root on Debian/Ubuntu, else says the one command to run.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own sshd fleet; two cores run two files at a time.
    pool: "forks",
    // --expose-gc: memory tests measure what is retained, not garbage V8 has yet to collect.
    poolOptions: { forks: { maxForks: 2, minForks: 1, execArgv: ["--expose-gc"] } },
    reporters: ["default"],
  },
});
