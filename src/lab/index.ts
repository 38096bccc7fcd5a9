/** The lab fleet: real sshds and a fault-injecting TCP proxy, for tests, benchmarks and `scout-mcp demo`. */
export { startFleet, LAB_USER } from "./fleet.js";
export type { FleetOptions, LabFleet, LabHost, SshConfigEntry } from "./fleet.js";
export { FaultProxy, findFreePort, listenOnFreePort } from "./fault-proxy.js";
export type { FaultProxyOptions } from "./fault-proxy.js";
export { labSettings } from "./settings.js";
export { descendantsOf } from "./processes.js";
