/**
 * The node commands the job script calls report a failure with one fixed line
 * (src/job/progress.ts) before their error line: the client reads the stage
 * and the class back from the Slurm log, which carries nothing else of ours.
 */
import { classifyFailure, failureLine, type NodeStage } from "../job/progress.ts";
import { SealbatchError } from "../util/errors.ts";

function inJob(): boolean {
  try {
    return (Deno.env.get("SEALBATCH_WORK_DIR") ?? "") !== "";
  } catch {
    return false;
  }
}

export async function atStage<T>(stage: NodeStage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // Only inside a job (decrypt-and-execute sets the work dir): by hand, one error line is all.
    // The job's own command failing (run-image: exit 8) is not a failure of the node.
    if (inJob() && !(err instanceof SealbatchError && err.kind === "job")) {
      console.error(failureLine(stage, classifyFailure(err)));
    }
    throw err;
  }
}
