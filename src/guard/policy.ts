/**
 * Per-host command and path policy, from SCOUT_POLICY_FILE (YAML or JSON):
 *
 *   hosts:
 *     "web*":
 *       commands: { allow: ["ls*", "grep *", "tail *"], deny: ["*rm *"] }
 *       paths:    { allow: ["/var/log/**", "/etc/**"], deny: ["/etc/shadow"] }
 *     "*":
 *       commands: { deny: ["*sudo*"] }
 *     "db*":
 *       sudo: { passwordFile: "/etc/scout/db-sudo-pass" }   # or { password: "…" }
 *
 * Every block whose host pattern matches the alias applies. A deny match refuses; when any
 * applicable block has an allow list, the value must match one of those allow lists. Checked
 * before any SSH traffic; refusals name the rule that decided. A `sudo=true` command is checked
 * as `sudo <command>`, so `*sudo*` denies and an allow list without `sudo …` entries refuse it.
 * The first host block (file order) with a `sudo` entry gives that host's sudo password.
 */
import { readFile } from "node:fs/promises";
import picomatch from "picomatch";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ScoutError } from "../errors.js";

const listSchema = z
  .object({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() })
  .strict();
const sudoSchema = z
  .object({ passwordFile: z.string().optional(), password: z.string().optional() })
  .strict()
  .refine((v) => (v.password === undefined) !== (v.passwordFile === undefined), {
    message: "give exactly one of password or passwordFile",
  });
const hostRuleSchema = z
  .object({ commands: listSchema.optional(), paths: listSchema.optional(), sudo: sudoSchema.optional() })
  .strict();
const policySchema = z.object({ hosts: z.record(z.string(), hostRuleSchema) }).strict();

export type PolicyFile = z.infer<typeof policySchema>;

type Matcher = (value: string) => boolean;

interface CompiledList {
  allow?: Array<{ pattern: string; test: Matcher }>;
  deny?: Array<{ pattern: string; test: Matcher }>;
}

interface CompiledRule {
  hostPattern: string;
  matchesHost: Matcher;
  commands?: CompiledList;
  paths?: CompiledList;
  sudo?: { passwordFile?: string; password?: string };
}

/** Where a host's sudo password comes from, per the policy file. */
export interface SudoSource {
  hostPattern: string;
  passwordFile?: string;
  password?: string;
}

/** Command globs: `*` matches anything (including `/` and spaces), `?` one character. */
function commandMatcher(pattern: string): Matcher {
  const re = new RegExp(
    "^" +
      pattern
        .split("")
        .map((ch) =>
          ch === "*" ? "[\\s\\S]*" : ch === "?" ? "[\\s\\S]" : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
        )
        .join("") +
      "$",
  );
  return (v) => re.test(v);
}

function compileList(
  list: z.infer<typeof listSchema> | undefined,
  kind: "command" | "path",
): CompiledList | undefined {
  if (!list) return undefined;
  const make = (p: string) => ({
    pattern: p,
    test: kind === "command" ? commandMatcher(p) : picomatch(p, { dot: true }),
  });
  return {
    ...(list.allow ? { allow: list.allow.map(make) } : {}),
    ...(list.deny ? { deny: list.deny.map(make) } : {}),
  };
}

export class Policy {
  private constructor(private readonly rules: CompiledRule[]) {}

  static empty(): Policy {
    return new Policy([]);
  }

  static fromObject(raw: unknown, source = "policy"): Policy {
    const parsed = policySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ScoutError(
        "config",
        `Invalid ${source}: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
        {
          hint: "Expected { hosts: { PATTERN: { commands: {allow, deny}, paths: {allow, deny} } } }",
        },
      );
    }
    return new Policy(
      Object.entries(parsed.data.hosts).map(([hostPattern, rule]) => {
        const commands = compileList(rule.commands, "command");
        const paths = compileList(rule.paths, "path");
        return {
          hostPattern,
          matchesHost: picomatch(hostPattern, { dot: true }),
          ...(commands ? { commands } : {}),
          ...(paths ? { paths } : {}),
          ...(rule.sudo ? { sudo: rule.sudo } : {}),
        };
      }),
    );
  }

  static async load(path: string): Promise<Policy> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new ScoutError("config", `Cannot read SCOUT_POLICY_FILE ${path}: ${(e as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
    } catch (e) {
      throw new ScoutError("config", `Cannot parse SCOUT_POLICY_FILE ${path}: ${(e as Error).message}`);
    }
    return Policy.fromObject(raw, `SCOUT_POLICY_FILE ${path}`);
  }

  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  checkCommand(host: string, command: string): void {
    this.check(host, command.trim(), "commands", "Command");
  }

  /** The sudo password entry of the first host block matching `host` that has one. */
  sudoFor(host: string): SudoSource | undefined {
    const rule = this.rules.find((r) => r.sudo && r.matchesHost(host));
    if (!rule?.sudo) return undefined;
    return { hostPattern: rule.hostPattern, ...rule.sudo };
  }

  checkPath(host: string, path: string): void {
    this.check(host, path, "paths", "Path");
  }

  private check(host: string, value: string, kind: "commands" | "paths", label: string): void {
    const applicable = this.rules.filter((r) => r.matchesHost(host) && r[kind]);
    for (const rule of applicable) {
      const hit = rule[kind]?.deny?.find((d) => d.test(value));
      if (hit) {
        throw new ScoutError(
          "refused",
          `Policy refused ${label.toLowerCase()} '${value}' on ${host}: matches deny rule '${hit.pattern}' for hosts '${rule.hostPattern}'`,
          { hint: "Ask the operator to change SCOUT_POLICY_FILE if this should be allowed" },
        );
      }
    }
    const withAllow = applicable.filter((r) => r[kind]?.allow);
    if (withAllow.length === 0) return;
    if (withAllow.some((r) => r[kind]?.allow?.some((a) => a.test(value)))) return;
    const rulesText = withAllow.map((r) => `'${r.hostPattern}'`).join(", ");
    throw new ScoutError(
      "refused",
      `Policy refused ${label.toLowerCase()} '${value}' on ${host}: not in the allow list of host rule ${rulesText}`,
      {
        hint: `Allowed: ${withAllow.flatMap((r) => r[kind]?.allow?.map((a) => a.pattern) ?? []).join(", ")}`,
      },
    );
  }
}
