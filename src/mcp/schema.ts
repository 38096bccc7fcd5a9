/**
 * The `scout` tool's input schema and description: what the model reads. Kept short on purpose
 * (the whole tools/list answer stays well under 3k tokens).
 */
import { z } from "zod";

export const scoutInputShape = {
  target: z
    .string()
    .default("")
    .describe("'host:/path' (or 'host:~/path') to read a file or list a directory; 'hosts' to list hosts"),
  query: z.string().optional().describe("Shell command to run with the target path as working directory"),
  sudo: z
    .boolean()
    .default(false)
    .describe("Run query as root via sudo (password configured by the operator, never sent by you)"),
  tree: z.boolean().default(false).describe("Show a directory as a tree (depth default 3)"),
  find: z.string().optional().describe("Glob on file names to find under the target, e.g. '*.py'"),
  depth: z.number().int().min(1).max(10).optional().describe("Depth limit for find (default 5) or tree (3)"),
  tail: z.number().int().min(1).max(100000).optional().describe("Return only the last N lines of the file"),
  offset: z.number().int().min(0).optional().describe("Byte offset to start reading the file at"),
  length: z.number().int().min(1).optional().describe("Number of bytes to read from offset"),
  diff: z.string().optional().describe("'host2:/path' to diff the target file against"),
  diff_content: z.string().optional().describe("Expected text to diff the target file against"),
  targets: z
    .array(z.string())
    .max(1000)
    .optional()
    .describe("Several 'host:/path' targets: the same read (or query) on each, concurrently"),
  beam: z
    .string()
    .optional()
    .describe("Local path: upload it to target if it exists, else download target to it"),
  beam_source: z
    .string()
    .optional()
    .describe("'host:/path' to copy from (with beam_target): remote to remote"),
  beam_target: z.string().optional().describe("'host:/path' to copy to (with beam_source)"),
  background: z
    .boolean()
    .optional()
    .describe(
      "With query: true starts it as a job on the host (survives Scout and timeouts) and answers a handle; false always runs it in the foreground (even with SCOUT_JOB_AFTER)",
    ),
  job: z
    .string()
    .optional()
    .describe(
      "A job handle 'host/id' (see job_action), or a host or pattern ('web*', '@group', '*') to list jobs",
    ),
  job_action: z
    .enum(["status", "output", "wait", "cancel", "result"])
    .optional()
    .describe(
      "With job='host/id': status (default), output (tail/offset/length; wait=N follows), wait, cancel, result (an ended job answered as its command would have been)",
    ),
  wait: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .optional()
    .describe("Seconds to wait for the job to end, or to follow its output (bounded by the call's timeout)"),
};

export const scoutInputSchema = z.object(scoutInputShape);
export type ScoutArgs = z.infer<typeof scoutInputSchema>;

export const SCOUT_DESCRIPTION = `Scout SSH hosts from ~/.ssh/config: list hosts, read files, list/tree/find, run commands, diff, broadcast, transfer.

Examples:
  scout("hosts")                                  list hosts with online status
  scout("web1:/etc/nginx/nginx.conf")             read a file (cut at the size cap, marked)
  scout("web1:/var/log/app.log", tail=100)        last 100 lines of a big file
  scout("web1:/var/log")                          list a directory (ls -la style)
  scout("web1:~/project", tree=true)              directory tree
  scout("web1:/srv", find="*.py", depth=3)        find files by name
  scout("web1:/var/log", query="grep ERROR app.log | tail -20")   run a command there
  scout("web1:/etc/hosts", diff="web2:/etc/hosts")                 unified diff across hosts
  scout(targets=["web1:/etc/os-release", "web2:/etc/os-release"])  same read on many hosts
  scout(targets=["web1:/", "web2:/"], query="uptime")               same command on many hosts
  scout("web1:/tmp/app.tar", beam="/local/app.tar")                upload (local exists) or download
  scout(beam_source="web1:/a.db", beam_target="web2:/b.db")        copy between hosts
  scout("web1:/srv/app", query="make release", background=true)    start a job: answers 'web1/<id>'
  scout(job="web1/<id>", job_action="output", wait=30)             follow its output for 30 s
  scout(job="web*")                                                 list jobs on matching hosts`;
