/**
 * The size budget of one answer: what goes on the wire is a JSON-RPC message, and clients bound
 * that (the Python SDK and fastmcp refuse an SSE event over 1 MiB), not the raw bytes of a file or
 * of a command's output. JSON escaping can double a text (a file of newlines) or worse (control
 * characters become `\u00XX`), so the caps of the operations (SCOUT_MAX_FILE_SIZE, …) cannot
 * bound the message; this module does, last, on the finished result: structured arrays are cut
 * to a quarter of the budget, then the text to what is left, with a marker that says so.
 */
import type { CallToolResult, ReadResourceResult } from "@modelcontextprotocol/server";

/** `{"jsonrpc":"2.0","id":…,"result":` + `}` and the SSE framing, with room for a long id. */
const ENVELOPE_BYTES = 512;

/** Bytes `JSON.stringify(ch)` takes in UTF-8 for the UTF-16 unit at `i` (a pair counts at its lead). */
function unitCost(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x20) return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  if (c === 0x22 || c === 0x5c) return 2;
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = s.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff ? 4 : 6; // a lone surrogate is escaped as \udXXX
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const p = s.charCodeAt(i - 1);
    return p >= 0xd800 && p <= 0xdbff ? 0 : 6; // second half of a pair: counted with the first
  }
  return 3;
}

/** Bytes of `JSON.stringify(s)` in UTF-8, quotes included. */
export function encodedBytes(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) n += unitCost(s, i);
  return n;
}

/** Length (UTF-16 units) of the longest prefix of `s` that encodes in `budget` bytes, quotes excluded; never splits a pair. */
export function prefixFitting(s: string, budget: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const cost = unitCost(s, i);
    const pair = cost === 4;
    if (n + cost > budget) return i;
    n += cost;
    if (pair) i++;
  }
  return s.length;
}

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? "", "utf8");

/** What the marker tells the reader beyond the sizes (e.g. how to read on). */
export type ContinueHint = (shownBytes: number) => string | undefined;

function marker(shownBytes: number, totalBytes: number, max: number, hint?: string): string {
  return `\n\n[cut to fit one MCP message: showing the first ${shownBytes} of ${totalBytes} bytes (SCOUT_MAX_MESSAGE_SIZE=${max} bytes encoded)${hint ? `; ${hint}` : ""}]`;
}

/** Room a marker may need: its text with the largest numbers, escaped. */
const MARKER_RESERVE = 400;

interface TextSlot {
  get(): string;
  set(text: string): void;
}

/**
 * Cuts the texts of a result so that `measure()` (the encoded result) fits `max` bytes less the
 * envelope. Texts are kept in order: the first gets what it can, the later ones what is left.
 */
function fitTexts(
  slots: TextSlot[],
  measure: () => number,
  max: number,
  hint: ContinueHint | undefined,
): boolean {
  const limit = max - ENVELOPE_BYTES;
  if (measure() <= limit) return false;
  const originals = slots.map((s) => s.get());
  for (const s of slots) s.set("");
  let room = limit - measure() - MARKER_RESERVE * slots.length;
  for (let k = 0; k < slots.length; k++) {
    const text = originals[k]!;
    const need = encodedBytes(text) - 2;
    if (need <= room) {
      slots[k]!.set(text);
      room -= need;
      continue;
    }
    const cut = prefixFitting(text, Math.max(0, room));
    const shown = text.slice(0, cut);
    const shownBytes = Buffer.byteLength(shown, "utf8");
    slots[k]!.set(shown + marker(shownBytes, Buffer.byteLength(text, "utf8"), max, hint?.(shownBytes)));
    room = 0;
  }
  return true;
}

/**
 * Structured arrays (find matches, hosts, broadcast results) cut to a quarter of the budget, the
 * largest first, so that the text, which is what a model reads, keeps most of it.
 */
function fitStructured(structured: Record<string, unknown>, max: number): Record<string, unknown> {
  const share = Math.floor(max / 4);
  if (jsonBytes(structured) <= share) return structured;
  const out: Record<string, unknown> = { ...structured };
  const arrays = Object.entries(out)
    .filter((e): e is [string, unknown[]] => Array.isArray(e[1]))
    .sort((a, b) => jsonBytes(b[1]) - jsonBytes(a[1]));
  for (const [key, items] of arrays) {
    const rest = jsonBytes({ ...out, [key]: [] });
    let room = share - rest;
    let keep = 0;
    for (; keep < items.length; keep++) {
      const cost = jsonBytes(items[keep]) + 1;
      if (cost > room) break;
      room -= cost;
    }
    if (keep < items.length) {
      out[key] = items.slice(0, keep);
      // Only where the mode's output schema has the flag: the schemas forbid extra properties.
      if ("truncated" in out) out.truncated = true;
    }
    if (jsonBytes(out) <= share) break;
  }
  return out;
}

/** A tool result whose JSON-RPC message fits `max` bytes. */
export function fitToolResult(result: CallToolResult, max: number, hint?: ContinueHint): CallToolResult {
  const texts = result.content.filter((c): c is { type: "text"; text: string } => c.type === "text");
  let totalChars = 0;
  for (const t of texts) totalChars += t.text.length;
  // Scout's structuredContent is always an object (2026-07-28 allows any JSON value).
  const structured = result.structuredContent as Record<string, unknown> | undefined;
  const structuredBytes = structured ? jsonBytes(structured) : 0;
  // Blocks that are not text (resource links) are kept whole, the first ones within an eighth.
  const others = result.content.length > texts.length ? result.content.filter((c) => c.type !== "text") : [];
  const otherBytes = others.length > 0 ? jsonBytes(others) : 0;
  // The common case costs one size check: 6 bytes per unit is the worst escaping.
  if (totalChars * 6 + structuredBytes + otherBytes + 4096 + ENVELOPE_BYTES <= max) return result;
  let content = result.content;
  if (otherBytes > max / 8) {
    let room = Math.floor(max / 8);
    const kept = new Set<object>();
    for (const c of others) {
      room -= jsonBytes(c) + 1;
      if (room < 0) break;
      kept.add(c);
    }
    content = content.filter((c) => c.type === "text" || kept.has(c));
  }
  const out: CallToolResult = { ...result, content: content.map((c) => ({ ...c })) };
  if (structured) out.structuredContent = fitStructured(structured, max);
  const slots = out.content
    .filter((c): c is { type: "text"; text: string } => c.type === "text")
    .map((c) => ({ get: () => c.text, set: (t: string) => void (c.text = t) }));
  const cut = fitTexts(slots, () => jsonBytes(out), max, hint);
  const fitted = out.structuredContent as Record<string, unknown> | undefined;
  if (cut && fitted && "truncated" in fitted) {
    out.structuredContent = { ...fitted, truncated: true };
  }
  return out;
}

/** A resource read whose JSON-RPC message fits `max` bytes. */
export function fitReadResult(
  result: ReadResourceResult,
  max: number,
  hint?: ContinueHint,
): ReadResourceResult {
  let totalChars = 0;
  for (const c of result.contents) totalChars += "text" in c ? c.text.length : c.blob.length;
  if (totalChars * 6 + 4096 + ENVELOPE_BYTES <= max) return result;
  const out: ReadResourceResult = { ...result, contents: result.contents.map((c) => ({ ...c })) };
  const slots = out.contents
    .filter((c): c is typeof c & { text: string } => "text" in c && typeof c.text === "string")
    .map((c) => ({ get: () => c.text, set: (t: string) => void (c.text = t) }));
  fitTexts(slots, () => jsonBytes(out), max, hint);
  return out;
}

/**
 * How to read on after a cut file read: its text starts with the file's bytes (a plain read), or
 * with a one-line header and then the bytes from `range.offset` (a ranged read).
 */
export function readOnHint(result: CallToolResult): ContinueHint | undefined {
  const s = result.structuredContent as
    { mode?: unknown; kind?: unknown; range?: { offset?: number }; tailLines?: unknown } | undefined;
  if (!s || s.mode !== "read" || s.kind !== "file" || s.tailLines !== undefined) return undefined;
  const first = result.content[0];
  const text = first?.type === "text" ? first.text : "";
  const header = s.range ? Buffer.byteLength(text.slice(0, text.indexOf("\n") + 1), "utf8") : 0;
  const base = s.range?.offset ?? 0;
  return (shown) => `read on with offset=${base + Math.max(0, shown - header)}`;
}
