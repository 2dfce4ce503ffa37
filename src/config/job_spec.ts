/**
 * Job spec: what a researcher writes in their project to describe one job.
 * Relative paths are resolved against the spec file's directory.
 */
import { MIN_OUTPUT_BYTES } from "../luks/size.ts";
import { inputError, q } from "../util/errors.ts";
import { NAME_RE } from "../util/user.ts";
import { resources, type SlurmResources } from "./site.ts";
import { YamlFile } from "./yaml.ts";
import type { OutputsFrom } from "../job/manifest.ts";

export type ImageSource =
  | { kind: "none" }
  | { kind: "sif"; path: string; key?: string; encrypted: boolean }
  | { kind: "definition"; path: string };

export interface JobSpec {
  path: string;
  name: string;
  /** "none": the spec names no input; `run --each GLOB` gives one per job. */
  input:
    | { kind: "dir"; path: string }
    | { kind: "container"; path: string; key: string }
    | { kind: "none" };
  image: ImageSource;
  /** The command with {input}, {output} and {image} placeholders. */
  command: string;
  resources: SlurmResources;
  outputs: string;
  /** File system size of the output container the node makes: "auto" (the smallest) or bytes. */
  outputSize: "auto" | number;
  /**
   * A job of several nodes: keep the first node's outputs (in `outputs`) or
   * every node's (in `outputs/node-I`).
   */
  outputsFrom: OutputsFrom;
}

const PLACEHOLDERS = ["input", "output", "image"];

function resolve(base: string, path: string): string {
  return path.startsWith("/") ? path : `${base}/${path}`.replace(/\/\.\//g, "/");
}

export async function loadJobSpec(path: string): Promise<JobSpec> {
  const file = await YamlFile.read(path);
  const base = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const root = file.root().only([
    "name",
    "input",
    "input_container",
    "image",
    "command",
    "resources",
    "outputs",
    "output_size",
    "outputs_from",
  ]);

  const name = root.string("name", true);
  if (!NAME_RE.test(name)) {
    throw inputError(`${file.where(["name"])}: invalid job name ${q(name)}`, {
      hint: "letters, digits, '.', '_' and '-', at most 64",
    });
  }

  const inputDir = root.string("input");
  const container = root.map("input_container");
  if (inputDir !== undefined && container !== undefined) {
    throw inputError(
      `${file.where(["input"])}: give one of input (a directory) or input_container, not both`,
    );
  }
  let input: JobSpec["input"] = { kind: "none" };
  if (container) {
    container.only(["path", "key"]);
    input = {
      kind: "container",
      path: resolve(base, container.string("path", true)),
      key: resolve(base, container.string("key", true)),
    };
  } else if (inputDir !== undefined) {
    input = { kind: "dir", path: resolve(base, inputDir) };
  }

  let image: ImageSource = { kind: "none" };
  const img = root.map("image");
  if (img) {
    img.only(["sif", "key", "definition", "encrypted"]);
    const sif = img.string("sif");
    const definition = img.string("definition");
    if ((sif === undefined) === (definition === undefined)) {
      throw inputError(
        `${file.where(["image"])}: give exactly one of image.sif or image.definition`,
      );
    }
    if (sif) {
      const key = img.string("key");
      image = {
        kind: "sif",
        path: resolve(base, sif),
        encrypted: img.bool("encrypted") ?? true,
        ...(key ? { key: resolve(base, key) } : {}),
      };
    } else {
      image = { kind: "definition", path: resolve(base, definition!) };
    }
  }

  const command = root.string("command", true);
  for (const m of command.matchAll(/\{([^}]*)\}/g)) {
    if (!PLACEHOLDERS.includes(m[1] ?? "")) {
      throw inputError(`${file.where(["command"])}: unknown placeholder ${q(`{${m[1]}}`)}`, {
        hint: `known placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`,
      });
    }
  }
  if (command.includes("{image}") && image.kind === "none") {
    throw inputError(
      `${file.where(["command"])}: the command uses {image} but the job has no image section`,
    );
  }

  const outputSizeText = root.string("output_size") ?? "auto";
  const sizeMatch = /^(\d{1,6})([MG])$/.exec(outputSizeText);
  if (outputSizeText !== "auto" && !sizeMatch) {
    throw inputError(
      `${file.where(["output_size"])}: expected "auto" or a size such as 512M or 2G, got ${
        q(outputSizeText)
      }`,
    );
  }
  const outputSize = sizeMatch
    ? Number(sizeMatch[1]) * (sizeMatch[2] === "G" ? 1024 : 1) * 1024 * 1024
    : "auto";
  if (typeof outputSize === "number" && outputSize < MIN_OUTPUT_BYTES) {
    throw inputError(
      `${file.where(["output_size"])}: the output container needs at least ${
        MIN_OUTPUT_BYTES / 1024 / 1024
      }M`,
    );
  }

  const outputsFrom = root.string("outputs_from") ?? "first";
  if (outputsFrom !== "first" && outputsFrom !== "all") {
    throw inputError(
      `${file.where(["outputs_from"])}: expected "first" or "all" (nodes), got ${q(outputsFrom)}`,
      {
        hint: "first: the first node's outputs; all: every node's, in outputs/node-0, node-1, ...",
      },
    );
  }
  return {
    path,
    name,
    input,
    image,
    command,
    resources: resources(root.map("resources")),
    outputs: resolve(base, root.string("outputs") ?? "results"),
    outputSize,
    outputsFrom,
  };
}
