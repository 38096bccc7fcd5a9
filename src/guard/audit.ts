/**
 * Audit log: one JSON line per call, appended. Writes are queued on one append stream; a failure is
 * logged loudly (never silently dropped) and later records keep trying.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../observe/log.js";

export interface AuditRecord {
  time: string;
  client: string;
  mode: string;
  host?: string;
  path?: string;
  command?: string;
  /** The command ran as root through sudo (the password is never recorded). */
  sudo?: boolean;
  exitCode?: number | null;
  /** Job calls: the job's handle `host/id` and the action (start, status, output, wait, cancel, list). */
  job?: string;
  jobAction?: string;
  /** MCP task operations: the task id and what was asked (create, get, result, cancel). */
  task?: string;
  taskOp?: string;
  bytes: number;
  durationMs: number;
  outcome: "ok" | "error" | "rejected";
  error?: string;
}

export class AuditLog {
  private stream: WriteStream | undefined;
  private failed = false;

  private constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  static async open(path: string, log: Logger): Promise<AuditLog> {
    await mkdir(dirname(path), { recursive: true });
    const audit = new AuditLog(path, log);
    audit.openStream();
    return audit;
  }

  private openStream(): void {
    this.stream = createWriteStream(this.path, { flags: "a", mode: 0o600 });
    this.stream.on("error", (e) => {
      this.log.error({ err: e.message, path: this.path }, "audit log write failed");
      this.failed = true;
      this.stream = undefined;
    });
  }

  write(record: AuditRecord): void {
    if (!this.stream || this.failed) {
      this.failed = false;
      this.openStream();
    }
    this.stream?.write(JSON.stringify(record) + "\n");
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.stream ? this.stream.end(() => resolve()) : resolve()));
  }
}
