/**
 * One file's text → its directives, checked the way readconf.c checks every line of every file
 * it reads, whether or not the line's block applies. Errors here are fatal for the whole config
 * (ssh prints them and exits 255); only unknown keywords are left to resolution time, because
 * whether they are fatal depends on the IgnoreUnknown obtained so far for the host.
 */
import { CLIENT_TOKENS, tokenError } from "./expand.js";
import { KEYWORDS, checkValue, type Value } from "./keywords.js";
import { splitLine, strdelim } from "./tokenize.js";

export interface Where {
  file: string;
  line: number;
}

export type MatchCriterion =
  | { negated: boolean; kind: "all" | "canonical" | "final" }
  | { negated: boolean; kind: "host" | "originalhost" | "user" | "localuser" | "exec"; arg: string };

export type Cond =
  | { kind: "host"; patterns: Array<{ negated: boolean; pattern: string }>; where: Where }
  | { kind: "match"; criteria: MatchCriterion[]; where: Where };

export type Item =
  | { kind: "set"; op: string; keyword: string; value: Value; where: Where }
  | { kind: "unknown"; keyword: string; where: Where }
  | { kind: "include"; patterns: string[]; files: ParsedFile[]; where: Where };

export interface ParsedFile {
  path: string;
  /** Read as the system-wide file (or one it includes): relative Includes are under /etc/ssh. */
  system: boolean;
  /** Directives before the first Host/Match line: they apply with the includer's activity. */
  pre: Item[];
  sections: Array<{ cond: Cond; body: Item[] }>;
  /** Fatal problems, "FILE line N: message" order. */
  errors: Array<{ where: Where; message: string }>;
  /** Some Match line names `final`: ssh then makes a second pass (want_final_pass). */
  wantsFinal: boolean;
  /** Some keyword is unknown: resolution must visit every line of this file. */
  hasUnknown: boolean;
}

/** match_cfg_line()'s grammar (evaluation is in match.ts). */
function parseMatch(
  rest: string,
): { criteria: MatchCriterion[]; wantsFinal: boolean } | { error: string; wantsFinal: boolean } {
  const criteria: MatchCriterion[] = [];
  let wantsFinal = false;
  let attributes = 0;
  let cp: string | null = rest;
  for (;;) {
    const { token, rest: after } = strdelim(cp);
    if (token === null || token === "") break;
    cp = after;
    if (token.startsWith("#")) {
      cp = null;
      break;
    }
    const negated = token.startsWith("!");
    const attr = (negated ? token.slice(1) : token).toLowerCase();
    if (attr === "all") {
      const next = strdelim(cp);
      if (attributes > 1 || (next.token !== null && next.token !== "" && !next.token.startsWith("#"))) {
        return { error: `'${token}' cannot be combined with other Match attributes`, wantsFinal };
      }
      criteria.push({ negated, kind: "all" });
      cp = null;
      break;
    }
    attributes++;
    if (attr === "canonical" || attr === "final") {
      if (attr === "final") wantsFinal = true;
      criteria.push({ negated, kind: attr });
      continue;
    }
    const a = strdelim(cp);
    if (a.token === null || a.token === "" || a.token.startsWith("#")) {
      return { error: `Missing Match criteria for ${attr}`, wantsFinal };
    }
    cp = a.rest;
    if (
      attr === "host" ||
      attr === "originalhost" ||
      attr === "user" ||
      attr === "localuser" ||
      attr === "exec"
    ) {
      if (attr === "exec") {
        // percent_expand() runs before the exec is skipped: a bad token is fatal either way.
        const e = tokenError(a.token, CLIENT_TOKENS);
        if (e) return { error: `Match exec: ${e}`, wantsFinal };
      }
      criteria.push({ negated, kind: attr, arg: a.token });
    } else {
      return { error: `Unsupported Match attribute ${attr}`, wantsFinal };
    }
  }
  if (attributes === 0 && !criteria.some((c) => c.kind === "all")) {
    return { error: "One or more attributes required for Match", wantsFinal };
  }
  if (cp !== null && cp !== "") return { error: "keyword match extra arguments at end of line", wantsFinal };
  return { criteria, wantsFinal };
}

/** Parses one file's text (Includes recorded, not read). Pure and synchronous. */
export function parseFileText(text: string, path: string, system = false): ParsedFile {
  const file: ParsedFile = {
    path,
    system,
    pre: [],
    sections: [],
    errors: [],
    wantsFinal: false,
    hasUnknown: false,
  };
  let target = file.pre;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n] as string;
    if (raw === "" || raw === "\r") continue;
    const where = { file: path, line: n + 1 };
    const fail = (message: string) => file.errors.push({ where, message });
    const sl = splitLine(raw);
    if (sl.kind === "blank") continue;
    if (sl.kind === "error") {
      fail(sl.message);
      continue;
    }
    const { keyword, args, rest } = sl;
    const spec = KEYWORDS.get(keyword);
    if (!spec) {
      file.hasUnknown = true;
      target.push({ kind: "unknown", keyword, where });
      continue;
    }
    switch (spec.kind.k) {
      case "host": {
        if (args.some((a) => a === "")) {
          fail(`keyword ${keyword} empty argument`);
          break;
        }
        const patterns = args.map((a) => ({
          negated: a.startsWith("!"),
          pattern: a.startsWith("!") ? a.slice(1) : a,
        }));
        target = [];
        file.sections.push({ cond: { kind: "host", patterns, where }, body: target });
        break;
      }
      case "match": {
        const m = parseMatch(rest);
        if (m.wantsFinal) file.wantsFinal = true;
        if ("error" in m) {
          fail(m.error);
          fail("Bad Match condition");
          // ssh goes on reading with the previous block's activity; nothing applies anyway.
          break;
        }
        target = [];
        file.sections.push({ cond: { kind: "match", criteria: m.criteria, where }, body: target });
        break;
      }
      case "include": {
        const patterns: string[] = [];
        let bad = false;
        for (const a of args) {
          if (a === "") {
            fail(`keyword ${keyword} empty argument`);
            bad = true;
            break;
          }
          if (a.startsWith("~") && system) {
            fail(`bad include path ${a}.`);
            bad = true;
            break;
          }
          patterns.push(
            a.startsWith("/") || a.startsWith("~") ? a : `${system ? "/etc/ssh" : "~/.ssh"}/${a}`,
          );
        }
        if (!bad) target.push({ kind: "include", patterns, files: [], where });
        break;
      }
      default: {
        const r = checkValue(keyword, spec, args, rest);
        if ("error" in r) {
          fail(r.error);
          break;
        }
        if (r.value.t !== "none" || spec.op === "identityfile" || spec.op === "certificatefile") {
          target.push({ kind: "set", op: spec.op, keyword, value: r.value, where });
        }
      }
    }
  }
  return file;
}

/** Every file of a tree (a file included twice appears twice). */
export function* filesOf(root: ParsedFile): Generator<ParsedFile> {
  yield root;
  for (const items of [root.pre, ...root.sections.map((s) => s.body)]) {
    for (const i of items) if (i.kind === "include") for (const f of i.files) yield* filesOf(f);
  }
}
