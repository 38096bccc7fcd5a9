/**
 * `scout("hosts")`: the configured hosts with their online status; `scout("hosts:PATTERN")` the
 * subset a host pattern or `@group` selects. Rendered once per change (see hosts-answer.ts).
 */
import { z } from "zod";
import { hostAddress } from "../../config/host.js";
import { formatHostsList, summarizeHosts, type HostRow } from "../format.js";
import { hostsAnswers } from "../hosts-answer.js";
import { defineMode, type Plan } from "../mode.js";
import { parseTarget, shown } from "../target.js";

interface HostsPlan extends Plan {
  filter?: string;
}

interface HostsAnswer {
  text: string;
  structured: Record<string, unknown>;
}

function render(
  rows: HostRow[],
  filter: string | undefined,
  maxListed: number,
  configProblem: string | undefined,
): HostsAnswer {
  // Past maxListed the structured list, like the text, holds the offline hosts only, plus counts.
  const listed = rows.length > maxListed ? summarizeHosts(rows, maxListed).offline : rows;
  const list =
    filter !== undefined && rows.length === 0
      ? `No configured hosts match '${shown(filter)}'.`
      : formatHostsList(rows, maxListed);
  return {
    // A refused config edit goes first: the user is looking at hosts their new file does not define.
    text: configProblem !== undefined ? `Warning: ${configProblem}\n\n${list}` : list,
    structured: {
      mode: "hosts",
      ...(filter !== undefined ? { filter } : {}),
      ...(configProblem !== undefined ? { configProblem } : {}),
      total: rows.length,
      online: rows.filter((r) => r.online).length,
      ...(listed !== rows ? { listed: "offline" } : {}),
      hosts: listed.map((r) => ({
        name: r.alias,
        address: hostAddress({ ...r, identityFiles: [], identitiesOnly: false, proxyJump: [] }),
        online: r.online,
        ...(r.configError !== undefined ? { configError: r.configError } : {}),
      })),
    },
  };
}

export const hostsMode = defineMode<HostsPlan, HostsAnswer>({
  mode: "hosts",
  params: ["target"],
  output: z.object({
    mode: z.literal("hosts"),
    filter: z.string().optional(),
    /** An ssh config change that was refused (does not parse); the hosts are the last good config's. */
    configProblem: z.string().optional(),
    total: z.number(),
    online: z.number(),
    /** "offline": too many hosts to list; only the offline ones are (see SCOUT_HOSTS_LIST_MAX). */
    listed: z.literal("offline").optional(),
    hosts: z.array(
      z.object({
        name: z.string(),
        address: z.string(),
        online: z.boolean(),
        configError: z.string().optional(),
      }),
    ),
  }),
  plan: (args) => {
    const t = parseTarget(args.target);
    const filter = t.kind === "hosts" ? t.filter : undefined;
    return { mode: "hosts", targets: [], ...(filter !== undefined ? { filter } : {}) };
  },
  run: (plan, ctx) =>
    hostsAnswers(ctx.engine).answer("scout", plan.filter, (rows, configProblem) =>
      render(rows, plan.filter, ctx.engine.settings.hostsListMax, configProblem),
    ),
  format: (answer) => ({ mode: "hosts", text: answer.text, structured: answer.structured }),
});
