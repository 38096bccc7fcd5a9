/**
 * `scout-mcp [serve]`: start Scout as composed in src/app.ts (the composition root), with the
 * transport the settings choose, and shut down gracefully on SIGINT/SIGTERM.
 */
export { startScout as serve, type RunningServer } from "../app.js";
