/**
 * Terminal output for the human-facing subcommands (demo, doctor): colors only on a TTY (and never
 * with NO_COLOR), column-aligned tables that count characters rather than bytes, and a spinner
 * that exists only on a TTY so that piped output and CI logs stay clean.
 */

export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const plain = (s: string) => s;

export function styleFor(out: Out, env: NodeJS.ProcessEnv = process.env): Style {
  const on = out.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
  const sgr = (code: string) => (on ? (s: string) => `\x1b[${code}m${s}\x1b[0m` : plain);
  return {
    bold: sgr("1"),
    dim: sgr("2"),
    green: sgr("32"),
    red: sgr("31"),
    yellow: sgr("33"),
    cyan: sgr("36"),
  };
}

/** Visible width: ANSI escapes removed, one column per code point (✓, ✗, – are single-width). */
export function visibleWidth(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function renderTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell + " ".repeat((widths[i] ?? 0) - visibleWidth(cell)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export interface Spinner {
  update(text: string): void;
  stop(): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A one-line progress indicator on `out` when it is a TTY; a no-op otherwise. */
export function spinner(out: Out, initial: string): Spinner {
  if (out.isTTY !== true) return { update: () => {}, stop: () => {} };
  let text = initial;
  let frame = 0;
  const draw = () => out.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`);
  draw();
  const timer = setInterval(draw, 80);
  timer.unref();
  return {
    update: (t) => {
      text = t;
      draw();
    },
    stop: () => {
      clearInterval(timer);
      out.write("\r\x1b[2K");
    },
  };
}
