/**
 * Targets that misbehave on purpose, for the harness's own test: a foreign
 * exception, a multi-line user error, a wrong exit code, a synchronous
 * endless loop, a slow case and one that holds 300 MiB across an await.
 */
import { inputError, SealbatchError } from "../../../src/util/errors.ts";
import type { FuzzTarget } from "../_harness.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cases that misbehave: those whose (one-byte) input is MARK. */
export const MARK = 0xab;

export function makeTarget(name: string): Promise<FuzzTarget> {
  const runs: Record<string, (input: Uint8Array) => Promise<unknown>> = {
    "selftest-exception": (input) => {
      const kind = (input[0] ?? 0) % 4;
      if (kind === 0) throw new TypeError("not a user error");
      if (kind === 1) throw inputError("two\nlines");
      if (kind === 2) throw new SealbatchError("kms", "wrong exit code");
      throw inputError("fine");
    },
    "selftest-hang": (input) => {
      if (input[0] === MARK) {
        for (;;) {
          /* never returns: only terminating the Worker ends it */
        }
      }
      return Promise.resolve();
    },
    "selftest-slow": async (input) => {
      if (input[0] === MARK) await sleep(400);
    },
    "selftest-memory": async (input) => {
      if (input[0] !== MARK) return;
      const held = new Uint8Array(300 * 1024 * 1024).fill(1);
      await sleep(30);
      return held.length;
    },
  };
  return Promise.resolve({
    name,
    seeds: [new Uint8Array([MARK]), new Uint8Array([1])],
    maxBytes: 1,
    exitCodes: [3],
    run: runs[name]!,
  });
}
