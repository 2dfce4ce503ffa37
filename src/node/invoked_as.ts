/**
 * The binary behaves as `sealbatch node decrypt-and-execute` when it is
 * invoked under the name `decrypt_and_execute` (a symlink at
 * /usr/bin/decrypt_and_execute). argv[0] comes from /proc/self/cmdline,
 * since Deno does not expose it.
 */
export const WRAPPER_NAME = "decrypt_and_execute";

function argv0(): string | undefined {
  try {
    const raw = Deno.readFileSync("/proc/self/cmdline");
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  } catch {
    return undefined; // no /proc or no read permission: plain sealbatch
  }
}

/** The CLI arguments to use, given the process's own (`Deno.args`). */
export function argsForInvocation(args: string[], name: string | undefined = argv0()): string[] {
  const base = name?.slice(name.lastIndexOf("/") + 1);
  return base === WRAPPER_NAME ? ["node", "decrypt-and-execute", ...args] : args;
}
