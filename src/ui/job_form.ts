/**
 * The New job form: its fields become a normal job spec, the same YAML a
 * terminal user writes (docs/run.md), validated by the same loader as
 * `sealbatch run` reads it with. A validation error goes next to the field
 * whose line it names (the spec is written one field per line, in a known
 * order), with the loader's own message.
 */
import { stringify } from "yaml";
import { loadJobSpec } from "../config/job_spec.ts";
import { q, reason, SealbatchError } from "../util/errors.ts";
import { exists, writeFileAtomic } from "../util/files.ts";

export const JOB_FIELDS = [
  "file",
  "name",
  "input",
  "image_sif",
  "image_key",
  "command",
  "time",
  "mem",
  "cpus",
  "outputs",
] as const;
export type JobField = (typeof JOB_FIELDS)[number];
export type JobForm = Partial<Record<JobField, string>>;

export interface JobFormResult {
  /** The spec file written (absolute). */
  path?: string;
  text?: string;
  errors: Partial<Record<JobField | "form", string>>;
}

const SPEC_FILE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.ya?ml$/;

/** A YAML scalar on one line ("bart fft ..." quoted only when it must be). */
function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

/** The spec's text and, for each line, the form field it came from. */
export function specText(f: JobForm): { text: string; lineField: JobField[] } {
  const lines: [string, JobField][] = [
    ["# job spec written by 'sealbatch ui' (same format as for 'sealbatch run')", "name"],
  ];
  const put = (text: string, fieldName: JobField) => lines.push([text, fieldName]);
  put(`name: ${scalar(f.name ?? "")}`, "name");
  put(`input: ${scalar(f.input ?? "")}`, "input");
  if (f.image_sif) {
    put("image:", "image_sif");
    put(`  sif: ${scalar(f.image_sif)}`, "image_sif");
    if (f.image_key) put(`  key: ${scalar(f.image_key)}`, "image_key");
  }
  put(`command: ${scalar(f.command ?? "")}`, "command");
  const res: [JobField, string][] = [];
  if (f.time) res.push(["time", `  time: ${scalar(f.time)}`]);
  if (f.mem) res.push(["mem", `  mem: ${scalar(f.mem)}`]);
  if (f.cpus) res.push(["cpus", `  cpus: ${/^\d+$/.test(f.cpus) ? f.cpus : scalar(f.cpus)}`]);
  if (res.length > 0) {
    put("resources:", res[0]![0]);
    for (const [name, text] of res) put(text, name);
  }
  if (f.outputs) put(`outputs: ${scalar(f.outputs)}`, "outputs");
  return { text: lines.map(([t]) => t).join("\n") + "\n", lineField: lines.map(([, n]) => n) };
}

/** The field a loader error is about: by the line it names in `path`. */
function fieldOf(message: string, path: string, lineField: JobField[]): JobField | undefined {
  if (!message.startsWith(`${path}:`)) return undefined;
  const line = Number(/^:(\d+):/.exec(message.slice(path.length))?.[1]);
  return Number.isInteger(line) ? lineField[line - 1] : undefined;
}

/**
 * Validate the form as a job spec in `project` and, when `write`, create it
 * there (never replacing a file unless `replace`). Nothing is written when
 * anything is wrong.
 */
export async function saveJobForm(
  project: string,
  f: JobForm,
  opts: { write: boolean; replace: boolean },
): Promise<JobFormResult> {
  const file = (f.file ?? "").trim() || "job.yaml";
  if (!SPEC_FILE_RE.test(file)) {
    return {
      errors: {
        file: `invalid spec file name ${q(file)}: letters, digits, '.', '_', '-', ending in .yaml`,
      },
    };
  }
  if (f.input && (f.input.startsWith("/") || f.input.split("/").includes(".."))) {
    return {
      errors: { input: `the input directory must be inside the project, got ${q(f.input)}` },
    };
  }
  const path = `${project}/${file}`;
  if (opts.write && !opts.replace && (await exists(path))) {
    return { errors: { file: `${q(path)} already exists (tick "replace" to overwrite it)` } };
  }
  const { text, lineField } = specText(f);
  // Validated under a temporary name beside the target, so that messages name the target.
  const tmp = `${project}/.${file}.${crypto.randomUUID().slice(0, 8)}.check`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o644 });
    await loadJobSpec(tmp);
  } catch (err) {
    const message = reason(err).replaceAll(tmp, path);
    const hint = err instanceof SealbatchError && err.hint ? ` (${err.hint})` : "";
    const at = fieldOf(message, path, lineField) ?? "form";
    return { text, errors: { [at]: message + hint } };
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  const inputDir = `${project}/${f.input}`;
  if (!(await Deno.stat(inputDir).catch(() => undefined))?.isDirectory) {
    return { text, errors: { input: `input directory ${q(inputDir)} does not exist` } };
  }
  if (opts.write) {
    try {
      await writeFileAtomic(path, text, { overwrite: opts.replace });
    } catch (err) {
      return { text, errors: { form: reason(err) } };
    }
  }
  return { path, text, errors: {} };
}
