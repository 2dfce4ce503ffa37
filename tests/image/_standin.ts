/**
 * Puts the recording `apptainer` STAND-IN (tests/_helpers/apptainer-standin)
 * on PATH for one test: Apptainer cannot be installed where these tests run.
 */
import { ROOT, tempDir } from "../_helpers/cli.ts";

export interface StandinCall {
  argv: string[];
  keyPresent: boolean;
}

export interface Standin {
  bin: string;
  /** Environment for runCli: the stand-in's directory first on PATH. */
  env: Record<string, string>;
  calls(): Promise<StandinCall[]>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function apptainerStandin(
  config: { build?: string; runExit?: number; runSleepMs?: number } = {},
  name = "apptainer",
): Promise<Standin> {
  const dir = await tempDir("sealbatch-standin");
  await Deno.symlink(`${ROOT}/tests/_helpers/apptainer-standin`, `${dir.path}/${name}`);
  await Deno.writeTextFile(`${dir.path}/standin.json`, JSON.stringify(config));
  return {
    bin: dir.path,
    env: { PATH: `${dir.path}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` },
    async calls() {
      try {
        const text = await Deno.readTextFile(`${dir.path}/calls.jsonl`);
        return text.trim().split("\n").map((l) => JSON.parse(l) as StandinCall);
      } catch {
        return [];
      }
    },
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}
