/** The lab fleet for tests: real sshds on 127.0.0.1 plus fault-injecting proxies (see src/lab). */
export * from "../../src/lab/index.js";
