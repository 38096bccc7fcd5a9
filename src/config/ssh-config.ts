/** ssh_config resolution; the modules are in ./ssh-config/ (see its index.ts). */
export * from "./ssh-config/index.js";
