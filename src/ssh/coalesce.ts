/**
 * ssh2 hands every SSH packet to its own `socket.write()`. A pipelined SFTP read (stat, open, read,
 * close) would cost one syscall and, with TCP_NODELAY, one TCP segment per packet, each waking the
 * peer's sshd. Corking the socket until the current tick's work is done (process.nextTick runs after
 * the synchronous code and promise reactions that wrote) sends whatever was written in one writev,
 * without adding latency: nothing waits for a timer or for more data.
 */
import type { Socket } from "node:net";

export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: Parameters<Socket["write"]>) => boolean).apply(this, args);
  } as Socket["write"];
}
