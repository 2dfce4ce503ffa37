/**
 * What squeue, sacct, scontrol and sbatch print on the site (mutated:
 * truncated lines, carriage returns, control characters, huge numbers and
 * lines), and the "SIZE SHA256" lines of the transfer commands, end in
 * success or one remote-error line (exit 6) without control characters.
 */
import { fuzzTargets } from "./_harness.ts";

Deno.test("hostile Slurm and hash-line output ends in success or one remote-error line", async () => {
  await fuzzTargets(["slurm-output", "sha256-lines"]);
});
