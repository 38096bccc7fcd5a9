import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Layers, top to bottom: a request flows transport → guard → mcp → ops → ssh → config, and a module
 * may import only its own layer and the ones below it. observe/ (metrics, logs) sits beside them
 * and sees only ssh and config types; cli/, lab/ and app.ts (the composition root) sit above all.
 * `npm run lint` fails on an import that points upward.
 */
const LAYERS = ["transport", "guard", "mcp", "ops", "ssh", "config"];
const ABOVE = ["cli", "lab"];

function layerRule(folder, forbidden) {
  const alternatives = [...forbidden, ...ABOVE].join("|");
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${alternatives})/`,
              message: `Layer rule: src/${folder} may not import from ${[...forbidden, ...ABOVE].join(", ")} (data flows transport → guard → mcp → ops → ssh → config; see README "Layers")`,
            },
            {
              regex: "^(\\.\\./)+app\\.js$",
              message: `Layer rule: src/${folder} may not import the composition root (src/app.ts); receive what you need instead`,
            },
          ],
        },
      ],
    },
  };
}

const layerRules = [
  ...LAYERS.map((folder, i) => layerRule(folder, LAYERS.slice(0, i))),
  layerRule("observe", ["transport", "guard", "mcp", "ops"]),
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "bench/results/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-control-regex": "off",
    },
  },
  ...layerRules,
);
