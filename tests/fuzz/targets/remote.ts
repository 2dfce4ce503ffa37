/**
 * What the site's commands print: squeue, sacct, scontrol and sbatch output
 * as the Slurm helpers parse it (through a fake Shell that answers each
 * command with its section of the case), and the "SIZE SHA256" lines of the
 * transfer commands.
 */
import {
  defaultSlurmSettings,
  findProgram,
  jobFiles,
  jobStates,
  parseSbatch,
  partitionVisible,
  submitMany,
} from "../../../src/slurm/slurm.ts";
import type { Shell } from "../../../src/slurm/shell.ts";
import { parseSizeHash } from "../../../src/remote/transfer.ts";
import { SealbatchError } from "../../../src/util/errors.ts";
import { type FuzzTarget, utf8 } from "../_harness.ts";

const dec = new TextDecoder();
const HEX = "0123456789abcdef".repeat(4);

const SLURM_SEEDS = [
  `@@squeue 0
1234|RUNNING|None
1235|PENDING|Resources
@@scontrol 0
JobId=1234 JobName=run.sh UserId=alice(1000) JobState=RUNNING ExitCode=0:0 WorkDir=/scratch/alice/j StdOut=/scratch/alice/j/slurm-1234.out Command=/scratch/alice/j/run.sh
@@sacct 0
1235|COMPLETED|0:0
@@sbatch 0
sbatch: warning: x
1236
@MARK@ 0 0
1237;cluster
@MARK@ 1 0
@@command 0
/usr/bin/sbatch
`,
  `@@squeue 1
slurm_load_jobs error: Invalid job id specified
@@sacct 0
1234|CANCELLED by 1000|0:15
1235|FAILED|1:0
1235.batch|FAILED|1:0
@@scontrol 0
PartitionName=secure AllowGroups=ALL Hidden=YES
JobId=1235 ExitCode=1:0
@@sbatch 0
sbatch: error: Batch job submission failed: Invalid partition name specified
@MARK@ 0 1
4242
@MARK@ 1 0
`,
  `@@squeue 0
1234|COMPLETED|None
1235|TIMEOUT|None
@@scontrol 0
JobId=1234 ExitCode=0:0
JobId=1235 ExitCode=0:1
@@sacct 1
sacct: error: Slurm accounting storage is disabled
@@sbatch 255
ssh: connect to host x: Connection refused
`,
];

const SLURM_TOKENS = [
  "@@squeue 0\n",
  "@@sacct 0\n",
  "@@scontrol 0\n",
  "@@sbatch 0\n",
  "@MARK@ 0 0\n",
  "@MARK@ 9 0\n",
  "|",
  "||",
  "None",
  "RUNNING",
  "COMPLETED",
  "CANCELLED+",
  "OUT_OF_MEMORY",
  "ExitCode=",
  "JobId=",
  "WorkDir=",
  "error: failed",
  "invalid job id",
  "\n",
  "99999999999999999999",
  "1234_7",
];

type Section = { code: number; text: string };

function sections(text: string): Map<string, Section> {
  const out = new Map<string, Section>();
  for (const part of text.split("@@").slice(1)) {
    const nl = part.indexOf("\n");
    const [name = "", code = "0"] = (nl < 0 ? part : part.slice(0, nl)).split(" ");
    const n = Number(code);
    out.set(name, {
      code: Number.isInteger(n) && n >= 0 && n < 256 ? n : 1,
      text: nl < 0 ? "" : part.slice(nl + 1),
    });
  }
  return out;
}

/** Each program gets its section (exit status and output); unknown ones print nothing. */
function fakeShell(text: string): Shell {
  const answers = sections(text);
  return {
    where: "the fuzz case",
    run(command) {
      const name =
        ["squeue", "sacct", "scontrol", "sbatch", "scancel", "command"].find((p) =>
          command.includes(p)
        ) ?? "";
      const s = answers.get(name) ?? { code: 0, text: "" };
      const mark = /sealbatch-[0-9a-f]{32}/.exec(command)?.[0] ?? "";
      const out = s.text.replaceAll("@MARK@", mark);
      return Promise.resolve({ code: s.code, stdout: out, stderr: s.code === 0 ? "" : out });
    },
  };
}

/** Run every step; a non-user error from any of them is the outcome, else the first user error. */
async function all(steps: (() => Promise<unknown>)[]): Promise<void> {
  let first: SealbatchError | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      if (!(err instanceof SealbatchError)) throw err;
      first ??= err;
    }
  }
  if (first) throw first;
}

export function makeTarget(name: string): Promise<FuzzTarget> {
  if (name === "sha256-lines") {
    return Promise.resolve({
      name,
      seeds: [`786432 ${HEX}\n`, `+65536\n+131072\n786432 ${HEX}\n`, `0 ${HEX}`].map(utf8),
      tokens: ["\n", " ", "+", "-1 ", "99999999999999999999 ", HEX, "got "],
      maxBytes: 64 * 1024,
      exitCodes: [6],
      run: (input) => Promise.resolve(parseSizeHash(dec.decode(input), "cannot upload x")),
    });
  }
  const settings = defaultSlurmSettings();
  return Promise.resolve({
    name,
    seeds: SLURM_SEEDS.map(utf8),
    tokens: SLURM_TOKENS,
    maxBytes: 256 * 1024,
    exitCodes: [3, 6],
    run(input) {
      const text = dec.decode(input);
      const shell = fakeShell(text);
      return all([
        () => jobStates(shell, settings, ["1234", "1235"]),
        () => jobFiles(shell, settings, "1234"),
        async () => {
          for (
            const r of await submitMany(shell, [{ settings, script: "/s/a/run.sh" }, {
              settings,
              script: "/s/b/run.sh",
            }])
          ) {
            if (r.status === "rejected") throw r.reason;
          }
        },
        // The line after the warning, as submitMany hands it over.
        () => Promise.resolve(parseSbatch(sections(text).get("sbatch")?.text.split("\n")[1] ?? "")),
        () => partitionVisible(shell, settings),
        () => findProgram(shell, settings, "sbatch"),
      ]);
    },
  });
}
