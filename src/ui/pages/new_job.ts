/**
 * New job: a form for the job spec that writes a normal job.yaml into the
 * project (job_form.ts), then the dry run of it on a chosen site.
 */
import { BART_COMMAND } from "../../demo/demo.ts";
import { readTextCapped } from "../../util/files.ts";
import { checkbox, field, flash, form, type Html, html, layout, select } from "../html.ts";
import { JOB_FIELDS, type JobForm, type JobFormResult, saveJobForm } from "../job_form.ts";
import { type Ctx, page, redirect, type Req, type Route } from "../server.ts";
import { siteOptions } from "./sites.ts";

const MAX_DIRS = 500;

/** Directories of the project (two levels, no hidden ones), as choices for the input. */
export async function projectDirs(project: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, depth: number) => {
    const base = rel ? `${project}/${rel}` : project;
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(base)) {
        if (e.isDirectory && !e.name.startsWith(".")) names.push(e.name);
      }
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (out.length >= MAX_DIRS) return;
      const path = rel ? `${rel}/${name}` : name;
      out.push(path);
      if (depth < 2) await walk(path, depth + 1);
    }
  };
  await walk("", 1);
  return out;
}

/** Spec files at the top of the project (what the run page offers). */
export async function projectSpecs(project: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(project)) {
    if (e.isFile && /^[^.].*\.ya?ml$/.test(e.name)) out.push(e.name);
  }
  return out.sort();
}

const DEFAULTS: JobForm = {
  file: "job.yaml",
  name: "bart-fft",
  command: BART_COMMAND,
  time: "00:10:00",
  outputs: "results",
};

async function formPage(ctx: Ctx, r: Req, values: JobForm, result?: JobFormResult) {
  const dirs = await projectDirs(ctx.project);
  const e = result?.errors ?? {};
  const v = (k: keyof JobForm) => values[k] ?? "";
  const err = (k: keyof JobForm) => e[k];
  const body = html`
    <p>Writes a job spec into the project <code>${ctx.project}</code>: the same file a terminal user
    would write for <code>sealbatch run</code>, validated the same way.</p>
    ${e.form ? html`<p class="error-box" role="alert">Error: ${e.form}</p>` : ""}
    ${Object.keys(e).length > 0
      ? html`<p class="error-box" role="alert">The job spec was not written: ${
        Object.keys(e).filter((k) => k !== "form").map((k) =>
          html`<a href="#f-${k}">see the marked field (${k})</a>`
        )
      }</p>`
      : ""}
    ${form(
      r.session,
      "/new",
      html`
        ${field({
          name: "file",
          label: "Spec file",
          value: v("file"),
          help: "in the project directory, e.g. job.yaml",
          ...(err("file") ? { error: err("file")! } : {}),
        })}
        ${field({
          name: "name",
          label: "Job name",
          value: v("name"),
          required: true,
          help: "letters, digits, . _ -; the job id is NAME-<8 hex>",
          ...(err("name") ? { error: err("name")! } : {}),
        })}
        ${select({
          name: "input",
          label: "Input directory (sealed into a LUKS2 container)",
          options: [
            ["", "(choose a directory of the project)"],
            ...dirs.map((d): [string, string] => [d, d]),
          ],
          value: v("input"),
          help:
            "a directory inside the project; with a cohort, the pattern on the run page replaces it",
          ...(err("input") ? { error: err("input")! } : {}),
        })}
        <fieldset><legend>Image (optional)</legend>
        ${field({
          name: "image_sif",
          label: "Encrypted SIF image",
          value: v("image_sif"),
          help: "path relative to the project; empty: the node's own tools run the command",
          ...(err("image_sif") ? { error: err("image_sif")! } : {}),
        })}
        ${field({
          name: "image_key",
          label: "Image private key (PEM)",
          value: v("image_key"),
          help: 'escrowed as key "image"',
          ...(err("image_key") ? { error: err("image_key")! } : {}),
        })}
        </fieldset>
        ${field({
          name: "command",
          label: "Command",
          value: v("command"),
          required: true,
          help: "placeholders: {input} and {output} (the opened containers on the node), {image}",
          ...(err("command") ? { error: err("command")! } : {}),
        })}
        <fieldset>
          <legend>Resources</legend>
          <div class="row">
        ${field({
          name: "time",
          label: "Time limit",
          value: v("time"),
          help: "e.g. 01:00:00",
          ...(err("time") ? { error: err("time")! } : {}),
        })}
        ${field({
          name: "mem",
          label: "Memory",
          value: v("mem"),
          help: "e.g. 4G",
          ...(err("mem") ? { error: err("mem")! } : {}),
        })}
        ${field({
          name: "cpus",
          label: "CPUs",
          value: v("cpus"),
          help: "a whole number",
          ...(err("cpus") ? { error: err("cpus")! } : {}),
        })}
          </div>
        </fieldset>
        ${field({
          name: "outputs",
          label: "Outputs directory",
          value: v("outputs"),
          help: "where the results are opened on this machine (must be empty or absent)",
          ...(err("outputs") ? { error: err("outputs")! } : {}),
        })}
        ${checkbox({ name: "replace", label: "Replace the spec file if it exists" })}
        <div><button type="submit">Write job spec</button></div>
      `,
      { cls: "stack", label: "Job spec" },
    )}
  `;
  return page(
    layout("New job", "/new", body),
    result && Object.keys(result.errors).length > 0 ? 422 : 200,
  );
}

async function writtenPage(ctx: Ctx, r: Req, file: string): Promise<Response> {
  const path = `${ctx.project}/${file}`;
  const text = await readTextCapped(path, 1024 * 1024, "job spec");
  const sites = await siteOptions();
  const body: Html = html`${flash(`wrote ${path}`)}
<h2>${file}</h2><pre>${text}</pre>
<h2>Dry run</h2>
<p>Seals the input (kept for the real run), checks the image, seals <code>run.sh</code> with
placeholder credentials and runs the read-only site checks; shows what would be uploaded and
submitted. Nothing is escrowed and nothing changes on the site.</p>
${
    form(
      r.session,
      "/run/start",
      html`<input type="hidden" name="spec" value="${file}">
<input type="hidden" name="dry_run" value="1">
${select({ name: "site", label: "Site", options: sites })}
<div><button type="submit">Dry run</button></div>`,
      { cls: "stack", label: "Dry run" },
    )
  }
<p><a href="/run?spec=${encodeURIComponent(file)}">Run it for real</a> ·
<a href="/new">Write another job spec</a></p>`;
  return page(layout("New job", "/new", body));
}

function newPage(ctx: Ctx, r: Req): Promise<Response> {
  const written = r.url.searchParams.get("written");
  if (written && /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.ya?ml$/.test(written)) {
    return writtenPage(ctx, r, written);
  }
  return formPage(ctx, r, DEFAULTS);
}

async function saveNew(ctx: Ctx, r: Req): Promise<Response> {
  const values: JobForm = {};
  for (const k of JOB_FIELDS) values[k] = (r.form.get(k) ?? "").trim();
  const result = await saveJobForm(ctx.project, values, {
    write: true,
    replace: r.form.get("replace") === "1",
  });
  if (Object.keys(result.errors).length > 0) return formPage(ctx, r, values, result);
  return redirect(`/new?written=${encodeURIComponent(values.file || "job.yaml")}`);
}

export const newJobRoutes: Route[] = [
  { method: "GET", path: /^\/new$/, handler: newPage },
  { method: "POST", path: /^\/new$/, handler: saveNew },
];
