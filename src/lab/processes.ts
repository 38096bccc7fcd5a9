/** The local process tree, read from /proc: which processes descend from a lab sshd. Linux only. */
import { readdirSync, readFileSync } from "node:fs";

/** Pids of every descendant of `roots` (e.g. the SSH sessions of lab sshds and what they run). */
export function descendantsOf(roots: number | number[]): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // "pid (comm) state ppid …" — comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = Array.isArray(roots) ? [...roots] : [roots];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}
