/** SCOUT_ALLOW_HOSTS / SCOUT_DENY_HOSTS: glob patterns on aliases; deny wins, empty allow = all. */
import picomatch from "picomatch";

export function makeHostFilter(allow: string[], deny: string[]): (alias: string) => boolean {
  const allowMatchers = allow.map((p) => picomatch(p, { dot: true }));
  const denyMatchers = deny.map((p) => picomatch(p, { dot: true }));
  return (alias) => {
    if (denyMatchers.some((m) => m(alias))) return false;
    return allowMatchers.length === 0 || allowMatchers.some((m) => m(alias));
  };
}
