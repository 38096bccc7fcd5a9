/** Unified diffs (3 lines of context) via the `diff` package. */
import { createTwoFilesPatch } from "diff";

export interface DiffResult {
  identical: boolean;
  unified: string;
}

export function diffTexts(aLabel: string, aText: string, bLabel: string, bText: string): DiffResult {
  if (aText === bText) return { identical: true, unified: "" };
  const patch = createTwoFilesPatch(aLabel, bLabel, aText, bText, undefined, undefined, { context: 3 });
  // Drop the "Index:"/"====" preamble: start at the --- line, like difflib.unified_diff.
  const start = patch.indexOf("--- ");
  return { identical: false, unified: (start >= 0 ? patch.slice(start) : patch).replace(/\n$/, "") };
}
