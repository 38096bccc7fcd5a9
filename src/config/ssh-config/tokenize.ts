/**
 * ssh_config line tokenization, ported from OpenSSH 9.2 readconf.c / misc.c so that every line
 * splits exactly as ssh splits it:
 * - the keyword is cut with strdelim() (whitespace, one `=`, a `"`-quoted keyword);
 * - the arguments with argv_split(): `'` and `"` quotes, `\'` `\"` `\\` and `\ ` escapes, a `#`
 *   at the start of a token ends the line; an unclosed quote is an error ("invalid quotes");
 * - ProxyCommand-like keywords and ProxyJump take the raw rest of the line, Match re-splits the
 *   raw rest with strdelim(), as readconf.c does.
 * The `ssh-config` npm tokenizer differs in each of these (it keeps `'` quotes, splits `=`
 * everywhere, tolerates unclosed quotes), hence this small port.
 */

const WS = " \t\r\n";

function isWs(c: string | undefined): boolean {
  return c !== undefined && c !== "" && WS.includes(c);
}

function skipWs(s: string, from: number): number {
  let i = from;
  while (i < s.length && isWs(s[i])) i++;
  return i;
}

/**
 * readconf.c strdelim() (split_equals=1): the next token of `s` and the rest, or a null token for
 * an unclosed `"`. A null rest means the string is used up.
 */
export function strdelim(s: string | null): { token: string | null; rest: string | null } {
  if (s === null) return { token: null, rest: null };
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (isWs(c) || c === '"' || c === "=") break;
    i++;
  }
  if (i >= s.length) return { token: s, rest: null };
  if (s[i] === '"') {
    // The opening quote is removed; the token runs to the next quote.
    const t = s.slice(0, i) + s.slice(i + 1);
    const q = t.indexOf('"', i);
    if (q < 0) return { token: null, rest: null };
    return { token: t.slice(0, q), rest: t.slice(skipWs(t, q + 1)) };
  }
  const wasEquals = s[i] === "=";
  let j = skipWs(s, i + 1);
  if (!wasEquals && s[j] === "=") j = skipWs(s, j + 1);
  return { token: s.slice(0, i), rest: s.slice(j) };
}

/** misc.c argv_split(s, terminate_on_comment=1); undefined for unbalanced quotes. */
export function argvSplit(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "#") break;
    let quote = "";
    let arg = "";
    for (; i < n; i++) {
      const ch = s[i] as string;
      if (ch === "\\") {
        const nx = s[i + 1];
        if (nx === "'" || nx === '"' || nx === "\\" || (quote === "" && nx === " ")) {
          i++;
          arg += nx;
        } else {
          arg += ch;
        }
      } else if (quote === "" && (ch === " " || ch === "\t")) {
        break;
      } else if (quote === "" && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== "" && ch === quote) {
        quote = "";
      } else {
        arg += ch;
      }
    }
    out.push(arg);
    if (i >= n) {
      if (quote !== "") return undefined;
      break;
    }
  }
  return out;
}

export type SplitLine =
  | { kind: "blank" }
  | { kind: "error"; message: string }
  | {
      kind: "directive";
      /** Lowercased keyword. */
      keyword: string;
      /** The rest of the line after the keyword, leading whitespace skipped. */
      rest: string;
      /** argv_split() of `rest`. */
      args: string[];
    };

/** One line, as process_config_line_depth() cuts it before looking at the keyword. */
export function splitLine(raw: string): SplitLine {
  // Trailing whitespace (and form feeds) go; index 0 is never stripped, as in readconf.c.
  let end = raw.length;
  while (end > 1 && (isWs(raw[end - 1]) || raw[end - 1] === "\f")) end--;
  const line = raw.slice(0, end);
  if (line === "") return { kind: "blank" };
  let { token, rest } = strdelim(line);
  if (token === null) return { kind: "blank" };
  if (token === "") ({ token, rest } = strdelim(rest));
  if (token === null || token === "" || token.startsWith("\n") || token.startsWith("#")) {
    return { kind: "blank" };
  }
  const keyword = token.toLowerCase();
  const r = rest === null ? "" : rest.slice(skipWs(rest, 0));
  if (r === "") return { kind: "error", message: `no argument after keyword "${keyword}"` };
  const args = argvSplit(r);
  if (!args) return { kind: "error", message: "invalid quotes" };
  return { kind: "directive", keyword, rest: r, args };
}

/** The raw value of ProxyCommand-like keywords: readconf.c skips leading whitespace and `=`. */
export function rawCommand(rest: string): string {
  let i = 0;
  while (i < rest.length && (isWs(rest[i]) || rest[i] === "=")) i++;
  return rest.slice(i);
}
