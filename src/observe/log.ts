/**
 * Structured logs: JSON lines on stderr (stdout belongs to the stdio protocol), human-readable when
 * stderr is a terminal. One logger for the process; modules take child loggers.
 */
import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger };

export interface LogOptions {
  level: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
  /** Write somewhere else than stderr (tests). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions): Logger {
  const base: LoggerOptions = {
    level: options.level,
    base: { name: "scout" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const pretty = options.pretty ?? (process.stderr.isTTY === true && !options.destination);
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: "pino-pretty",
        options: {
          destination: 2,
          colorize: true,
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "pid,hostname,name",
        },
      },
    });
  }
  if (options.destination) return pino(base, options.destination);
  // A write per line costs a syscall and a thread-pool round trip on every tool call; lines are
  // batched up to 4 KiB instead, and the first line of a batch arms a flush LOG_FLUSH_MS later
  // (nothing runs while idle). pino flushes what is left synchronously on exit.
  const stderr = pino.destination({ fd: 2, sync: false, minLength: 4096 });
  let flushTimer: NodeJS.Timeout | undefined;
  const flushSoon = () => {
    flushTimer = undefined;
    try {
      stderr.flush();
    } catch {
      // already ended (process exit): pino flushed it then
    }
  };
  const write = stderr.write.bind(stderr);
  stderr.write = (line: string): boolean => {
    if (!flushTimer) {
      flushTimer = setTimeout(flushSoon, LOG_FLUSH_MS);
      flushTimer.unref();
    }
    return write(line);
  };
  return pino(base, stderr);
}

/** How long a buffered log line may wait before it reaches stderr. */
const LOG_FLUSH_MS = 200;

/** A logger that drops everything (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
