/** `scout("hosts")`: the configured hosts with their online status. */
import { z } from "zod";
import { hostAddress } from "../../config/host.js";
import { formatHostsList, type HostRow } from "../format.js";
import { defineMode, type Plan } from "../mode.js";

export const hostsMode = defineMode<Plan, HostRow[]>({
  mode: "hosts",
  params: ["target"],
  output: z.object({
    mode: z.literal("hosts"),
    hosts: z.array(
      z.object({
        name: z.string(),
        address: z.string(),
        online: z.boolean(),
        configError: z.string().optional(),
      }),
    ),
  }),
  plan: () => ({ mode: "hosts", targets: [] }),
  async run(_plan, ctx) {
    const hosts = ctx.engine.registry.list();
    const status = await ctx.engine.status.status(hosts);
    return hosts.map((h) => ({
      alias: h.alias,
      user: h.user,
      hostname: h.hostname,
      port: h.port,
      online: status.get(h.alias) ?? false,
      ...(h.configError !== undefined ? { configError: h.configError } : {}),
    }));
  },
  format: (rows) => ({
    mode: "hosts",
    text: formatHostsList(rows),
    structured: {
      mode: "hosts",
      hosts: rows.map((r) => ({
        name: r.alias,
        address: hostAddress({ ...r, identityFiles: [], identitiesOnly: false, proxyJump: [] }),
        online: r.online,
        ...(r.configError !== undefined ? { configError: r.configError } : {}),
      })),
    },
  }),
});
