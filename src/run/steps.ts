/**
 * The steps of `sealbatch run`, in order. Apart from run.ts so that reading a
 * project's state (job list, job show) does not load the whole workflow.
 */
export const STEPS = [
  "plan",
  "seal-input",
  "image",
  "escrow",
  "seal-job",
  "upload",
  "submit",
  "wait",
  "fetch",
  "verify-receipt",
  "open-results",
  "revoke",
] as const;
export type StepName = (typeof STEPS)[number];
