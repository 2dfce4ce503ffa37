/**
 * Results: the opened outputs of a job (on this machine only): the file list,
 * and for each BART .cfl/.hdr pair the PNG `sealbatch view` makes of it
 * (magnitude, the same scaling: src/view/), inline.
 */
import { listJobs, showJob } from "../../run/project.ts";
import { viewCfl } from "../../view/view.ts";
import { readTextCapped } from "../../util/files.ts";
import { columns, html, layout } from "../html.ts";
import { type Ctx, page, refuse, type Req, type Route, withHeaders } from "../server.ts";

const MAX_FILES = 1000;
const TEXTS = ["job.status", "job.stdout", "job.stderr"];

interface Listed {
  files: { rel: string; bytes: number }[];
  /** BART images: the name without .cfl/.hdr. */
  images: string[];
}

async function listOutputs(dir: string): Promise<Listed> {
  const files: Listed["files"] = [];
  const walk = async (rel: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) entries.push(e);
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (files.length >= MAX_FILES) return;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else if (e.isFile) files.push({ rel: path, bytes: (await Deno.stat(`${dir}/${path}`)).size });
    }
  };
  await walk("");
  const names = new Set(files.map((f) => f.rel));
  const images = files.filter((f) =>
    f.rel.endsWith(".cfl") && names.has(`${f.rel.slice(0, -4)}.hdr`)
  )
    .map((f) => f.rel.slice(0, -4));
  return { files, images };
}

async function outputsOf(ctx: Ctx, job: string): Promise<string | undefined> {
  const j = await showJob(ctx.stateRoot, job);
  return j.steps.includes("open-results") ? j.plan?.outputs : undefined;
}

async function resultsList(ctx: Ctx): Promise<Response> {
  const jobs = (await listJobs(ctx.stateRoot)).filter((j) => j.steps.includes("open-results"));
  const body = jobs.length === 0
    ? html`<p>No opened results yet: they appear here when a run has opened them.</p>`
    : html`<ul>${
      jobs.map((j) =>
        html`<li><a href="/results/${
          encodeURIComponent(j.job)
        }">${j.job}</a> <span class="muted">${j.plan?.outputs}</span></li>`
      )
    }</ul>`;
  return page(layout("Results", "/results", body));
}

async function resultsPage(ctx: Ctx, r: Req): Promise<Response> {
  const job = r.params[0]!;
  const dir = await outputsOf(ctx, job);
  if (!dir) return refuse(404, "this job has no opened results");
  const { files, images } = await listOutputs(dir);
  const log = r.url.searchParams.get("log") === "1";
  const texts = await Promise.all(
    TEXTS.filter((t) => files.some((f) => f.rel === t)).map(async (t) =>
      [t, await readTextCapped(`${dir}/${t}`, 64 * 1024, t).catch((e) => String(e))] as const
    ),
  );
  const img = (name: string) =>
    `/results/${encodeURIComponent(job)}/png?name=${encodeURIComponent(name)}${
      log ? "&log=1" : ""
    }`;
  const body = html`
    <p>Opened on this machine in <code>${dir}</code>.</p>
    ${images.length > 0
      ? html`
        <h2>Images</h2>
        <p>Magnitude, ${log ? "log scale (5 decades)" : "linear"}, as
        <code>sealbatch view</code> draws it. <a href="?log=${log ? "0" : "1"}">Show ${log
          ? "linear"
          : "log scale"}</a></p>
        <div class="gallery">${images.map((name) =>
          html`<figure><img src="${
            img(name)
          }" alt="magnitude image of ${name}.cfl"><figcaption>${name}.cfl</figcaption></figure>`
        )}</div>
      `
      : ""}
    <h2>Files</h2><div class="scroll">
      <table>
        ${columns("file", "bytes")}
        <tbody>${files.map((f) =>
          html`
            <tr>
              <td class="mono">${f.rel}</td>
              <td>${f.bytes}</td>
            </tr>
          `
        )}</tbody>
      </table>
    </div>
    ${texts.map(([name, text]) =>
      html`
        <h2>${name}</h2>
        <pre>${text}</pre>
      `
    )}
    <p><a href="/jobs/${encodeURIComponent(job)}">Job ${job}</a></p>
  `;
  return page(layout(`Results of ${job}`, "/results", body));
}

async function png(ctx: Ctx, r: Req): Promise<Response> {
  const job = r.params[0]!;
  const dir = await outputsOf(ctx, job);
  const name = r.url.searchParams.get("name") ?? "";
  // Only an image the listing shows: no path from the request reaches the file system.
  if (!dir || !(await listOutputs(dir)).images.includes(name)) return refuse(404, "no such image");
  // Beside the job state (0700), not in a shared temporary directory: the PNG shows results.
  const tmp = await Deno.makeTempDir({ dir: ctx.stateRoot, prefix: "ui-png-" });
  try {
    await viewCfl({
      input: `${dir}/${name}`,
      out: `${tmp}/view.png`,
      log: r.url.searchParams.get("log") === "1",
    });
    const bytes = await Deno.readFile(`${tmp}/view.png`);
    return withHeaders(new Response(bytes, { headers: { "content-type": "image/png" } }));
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

const JOB = "([A-Za-z0-9_][A-Za-z0-9_.-]*)";
export const resultRoutes: Route[] = [
  { method: "GET", path: /^\/results$/, handler: resultsList },
  { method: "GET", path: new RegExp(`^/results/${JOB}$`), handler: resultsPage },
  { method: "GET", path: new RegExp(`^/results/${JOB}/png$`), handler: png },
];
