/**
 * The layer rule in eslint.config.js: an import pointing upward (or into cli/, lab/, app.ts) fails
 * lint; one pointing downward passes. Linted as text with the repository's real config.
 */
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: new URL("../..", import.meta.url).pathname });

async function layerErrors(file: string, source: string): Promise<string[]> {
  const [r] = await eslint.lintText(source, { filePath: file });
  return (r?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("layer rule", () => {
  it("refuses upward imports, type-only ones included", async () => {
    const cases: Array<[string, string]> = [
      ["src/mcp/x.ts", 'import type { Pipeline } from "../guard/pipeline.js";\nexport type X = Pipeline;\n'],
      [
        "src/mcp/modes/x.ts",
        'import { Pipeline } from "../../guard/pipeline.js";\nexport const x = Pipeline;\n',
      ],
      ["src/guard/x.ts", 'import { x } from "../transport/http.js";\nexport const y = x;\n'],
      ["src/ops/x.ts", 'import type { ScoutApp } from "../app.js";\nexport type X = ScoutApp;\n'],
      ["src/ssh/x.ts", 'import { readFile } from "../ops/read.js";\nexport const x = readFile;\n'],
      ["src/config/x.ts", 'import { Fleet } from "../ssh/fleet.js";\nexport const x = Fleet;\n'],
      ["src/observe/x.ts", 'import { serve } from "../cli/serve.js";\nexport const x = serve;\n'],
    ];
    for (const [file, source] of cases) {
      const errors = await layerErrors(file, source);
      expect(errors, file).toHaveLength(1);
      expect(errors[0]).toMatch(/Layer rule: /);
    }
  });

  it("allows downward imports and the composition root's wiring", async () => {
    const cases: Array<[string, string]> = [
      ["src/guard/x.ts", 'import { planCall } from "../mcp/scout-tool.js";\nexport const x = planCall;\n'],
      [
        "src/transport/x.ts",
        'import { apiKeyOf } from "../guard/http-gate.js";\nexport const x = apiKeyOf;\n',
      ],
      ["src/mcp/modes/x.ts", 'import { readFile } from "../../ops/read.js";\nexport const x = readFile;\n'],
      ["src/app.ts", 'import { Pipeline } from "./guard/pipeline.js";\nexport const x = Pipeline;\n'],
    ];
    for (const [file, source] of cases) expect(await layerErrors(file, source), file).toEqual([]);
  });
});
