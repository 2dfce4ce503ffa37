/**
 * Run: start `run` (one job, or a cohort with a pattern), follow it live per
 * step and per job (server-sent events), cancel it, answer a passphrase
 * prompt, resume an interrupted run.
 */
import { STEPS } from "../../run/steps.ts";
import { outcomeText } from "../../run/run.ts";
import { formatDuration } from "../../util/duration.ts";
import { q, reason } from "../../util/errors.ts";
import { NAME_RE } from "../../util/user.ts";
import { checkbox, columns, field, form, type Html, html, layout, select } from "../html.ts";
import type { Session } from "../guard.ts";
import type { RunRequest, UiRun } from "../runs.ts";
import { type Ctx, page, redirect, refuse, type Req, type Route, withHeaders } from "../server.ts";
import { projectSpecs } from "./new_job.ts";
import { siteOptions } from "./sites.ts";

const STATUS_TEXT: Record<UiRun["status"], string> = {
  running: "running",
  finished: "finished",
  failed: "FAILED",
  cancelled: "cancelled",
  interrupted: "interrupted (the UI stopped while it ran): resume it",
};

function stepsTable(run: UiRun, job: string): Html {
  const v = run.jobs.get(job)!;
  return html`
    <div class="scroll">
      <table>
        <caption>Steps of ${job}</caption>
        ${columns("step", "state", "time", "detail")}
        <tbody>${STEPS.map((name) => {
          const s = v.steps.get(name);
          const state = !s ? "-" : s.phase === "running" ? "running" : s.phase;
          const time = !s
            ? ""
            : s.phase === "running"
            ? html`<span data-since="${s.startedAt}">${
              formatDuration(Date.now() - s.startedAt)
            }</span>`
            : s.phase === "done"
            ? (s.ms !== undefined ? formatDuration(s.ms) : "")
            : ""; // skipped: the detail says why
          return html`
            <tr>
              <th scope="row">${name}</th>
              <td>${state === "running" ? html`<strong>&#9654; running</strong>` : state}</td>
              <td>${time}</td>
              <td class="mono">${s?.detail ?? ""}</td>
            </tr>
          `;
        })}</tbody>
      </table>
    </div>
  `;
}

/** A cohort at a glance: one row per job, its current step and Slurm state. */
function overview(run: UiRun): Html {
  const rows = [...run.jobs.values()].map((v) => {
    const steps = [...v.steps.entries()];
    const running = steps.find(([, s]) => s.phase === "running");
    const last = running ?? steps.at(-1);
    const step = last ? `${last[0]}${running ? " (running)" : ""}` : "waiting";
    return html`
      <tr>
        <td>${v.input?.slice(v.input.lastIndexOf("/") + 1) ?? "-"}</td>
        <td>${v.job}</td>
        <td>${step}</td>
        <td>${v.slurm ?? "-"}</td>
        <td>${v.slurmState ?? "-"}</td>
      </tr>
    `;
  });
  return html`
    <h2>Jobs of the cohort</h2>
    <div class="scroll">
      <table>
        ${columns("input", "job", "step", "slurm", "Slurm state")}
        <tbody>${rows}</tbody>
      </table>
    </div>
  `;
}

function jobBlock(run: UiRun, job: string): Html {
  const v = run.jobs.get(job)!;
  return html`
    <section class="job"
      aria-label="job ${job}"><h3>job <a href="/jobs/${encodeURIComponent(job)}">${job}</a>${v.input
        ? html`
          <span class="muted">input ${v.input}</span>
        `
        : ""}</h3>
    <p>Slurm id: <strong>${v.slurm ?? "-"}</strong> · Slurm state: <strong>${v.slurmState ??
      "-"}</strong></p>
    ${stepsTable(run, job)}
    ${v.notes.length > 0
      ? html`
        <details>
          <summary>Notes (${v.notes.length})</summary>
          <pre>${v.notes.join("\n")}</pre>
        </details>
      `
      : ""}</section>
  `;
}

function summaryBlock(run: UiRun): Html {
  const s = run.summary;
  if (run.rows) {
    return html`
      <h2>Cohort</h2>
      <div class="scroll">
        <table>
          ${columns("input", "job", "slurm", "result", "outputs")}
          <tbody>${run.rows.map((r) =>
            html`
              <tr>
                <td>${r.input.slice(r.input.lastIndexOf("/") + 1)}</td>
                <td><a href="/jobs/${encodeURIComponent(r.job)}">${r.job}</a></td>
                <td>${r.summary?.slurmJob ?? "-"}</td>
                <td>${r.error
                  ? html`<span class="bad">error: ${reason(r.error)}</span>`
                  : outcomeText(r.summary!)}</td>
                <td>${r.summary?.outputs
                  ? html`<a href="/results/${encodeURIComponent(r.job)}">${r.summary.outputs}</a>`
                  : "-"}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    `;
  }
  if (!s) return html``;
  if (s.dryRun) {
    return html`
      <h2>Dry run</h2>
      <p>Nothing was escrowed in Vault and nothing changed on the site.</p>
      <h3>Site checks</h3>
      <ul>${(s.checks ?? []).map((c) => html`<li class="mono">${c}</li>`)}</ul>
      <h3>Would upload</h3>
      <div class="scroll">
        <table>
          ${columns("file", "bytes", "SHA-256")}
          <tbody>${s.uploads.map((u) =>
            html`
              <tr>
                <td>${u.name}</td>
                <td>${u.bytes}</td>
                <td class="mono">${u.sha256}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
      <h3>Would submit</h3>
      <pre>${s.wouldSubmit ?? ""}</pre>
    `;
  }
  const sent = s.uploads.filter((u) => !u.skipped).length;
  return html`<h2>Result: ${outcomeText(s)}</h2>
<p>Uploads: ${sent} sent, ${s.uploads.length - sent} already there (verified).</p>
${
    s.receipt
      ? html`<p>Receipt: <span class="badge ok">verified</span> signed by the node; job ${s.receipt.job}, exit ${s.receipt.exit_code}, ${s.receipt.started_at} .. ${s.receipt.ended_at}</p>`
      : html`<p>Receipt: <span class="badge bad">none</span></p>`
  }
${
    s.outputs
      ? html`<p>Outputs: <a href="/results/${encodeURIComponent(s.job)}">${s.outputs}</a></p>`
      : ""
  }
${
    s.stderr !== undefined
      ? html`
        <h3>stderr of job ${s.job} (decrypted from its results on this machine)</h3>
        <pre>${s.stderr}</pre>
      `
      : ""
  }`;
}

/** Cancel while it runs; resume when it stopped short. */
function actions(session: Session, run: UiRun): Html {
  if (!run.finished) {
    return form(
      session,
      `/run/${run.id}/cancel`,
      html`<button type="submit" class="danger">Cancel run</button>`,
      { label: "Cancel" },
    );
  }
  if (run.status === "finished" || run.request.dryRun) return html``;
  return form(session, `/run/${run.id}/resume`, html`<button type="submit">Resume</button>`, {
    label: "Resume",
  });
}

export function runFragment(session: Session, run: UiRun): Html {
  const end = run.endedAt ?? Date.now();
  return html`
    <p
      role="status">Status: <strong>${STATUS_TEXT[run.status]}</strong>${run.where
        ? ` on ${run.where}`
        : ""} · elapsed ${run.finished
        ? formatDuration(end - run.startedAt)
        : html`<span data-since="${run.startedAt}">${
          formatDuration(end - run.startedAt)
        }</span>`}${run.cancelRequested && !run.finished ? " · cancelling" : ""}</p>
    ${run.error
      ? html`<div class="alarm" role="alert"><strong>Error:</strong> ${run.error}${
        run.hint ? html`<br>hint: ${run.hint}` : ""
      }</div>`
      : ""}
    ${actions(session, run)}
    ${summaryBlock(run)}
    ${run.request.each && !run.rows ? overview(run) : ""}
    ${[...run.jobs.keys()].map((job) => jobBlock(run, job))}
  `;
}

export function promptFragment(session: Session, run: UiRun): Html {
  if (!run.prompt) return html``;
  return html`<div class="notice">${
    form(
      session,
      `/run/${run.id}/passphrase`,
      html`<input type="hidden" name="prompt" value="${run.prompt.id}">
${field({ name: "passphrase", label: `Passphrase for ${run.prompt.label}`, type: "password" })}
<div><button type="submit">Unlock</button></div>`,
      { cls: "stack", label: "Passphrase" },
    )
  }</div>`;
}

function requestText(req: RunRequest): string {
  return `${req.spec.slice(req.spec.lastIndexOf("/") + 1)} on ${req.site}${
    req.each ? ` --each ${q(req.each)}` : ""
  }${req.dryRun ? " (dry run)" : ""}`;
}

async function runList(ctx: Ctx, r: Req): Promise<Response> {
  const specs = await projectSpecs(ctx.project);
  const sites = await siteOptions();
  const chosen = r.url.searchParams.get("spec") ?? undefined;
  const runs = ctx.runs.list();
  const body = html`${
    form(
      r.session,
      "/run/start",
      html`${
        select({
          name: "spec",
          label: "Job spec",
          options: specs.map((s): [string, string] => [s, s]),
          ...(chosen ? { value: chosen } : {}),
          help: "spec files at the top of the project; write one on the New job page",
        })
      }
${select({ name: "site", label: "Site", options: sites })}
${
        field({
          name: "each",
          label: "Cohort: one job per input directory matching (optional)",
          placeholder: "inputs/*",
          help: "a pattern relative to the project (*, ?, [...] per path segment)",
        })
      }
${field({ name: "concurrency", label: "Cohort jobs sealing at once", value: "4", type: "number" })}
${checkbox({ name: "dry_run", label: "Dry run (change nothing remote)" })}
${
        checkbox({
          name: "fresh",
          label: "Start a new job even if an unfinished one of this spec exists",
        })
      }
<div><button type="submit">Start run</button></div>`,
      { cls: "stack", label: "Start a run" },
    )
  }
<h2>Runs</h2>${
    runs.length === 0 ? html`<p>No runs yet.</p>` : html`
      <div class="scroll">
        <table>
          ${columns("started", "what", "status", "jobs")}
          <tbody>${runs.map((run) =>
            html`
              <tr>
                <td><a href="/run/${run.id}">${new Date(run.startedAt).toISOString().slice(0, 19)
                  .replace("T", " ")}</a></td>
                <td>${requestText(run.request)}</td>
                <td>${STATUS_TEXT[run.status]}</td>
                <td>${[...run.jobs.keys()].join(", ")}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    `
  }`;
  return page(layout("Run", "/run", body));
}

function runPage(ctx: Ctx, r: Req): Response {
  const run = ctx.runs.get(r.params[0]!);
  if (!run) return refuse(404, "no such run");
  const body = html`<p>${requestText(run.request)}</p>
<div id="prompt" data-prompt="${run.prompt?.id ?? ""}" aria-live="assertive">${
    promptFragment(r.session, run)
  }</div>
<div id="live" data-events="/run/${run.id}/events">${runFragment(r.session, run)}</div>
<p><a href="/run">All runs</a></p>`;
  return page(layout(`Run ${run.id}`, "/run", body));
}

/** Server-sent events: the run's fragment on each change (at most every 250 ms), then the end. */
function runEvents(ctx: Ctx, r: Req): Response {
  const run = ctx.runs.get(r.params[0]!);
  if (!run) return refuse(404, "no such run");
  const enc = new TextEncoder();
  let stop = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let closed = false;
      const send = () => {
        timer = undefined;
        if (closed) return;
        const data = JSON.stringify({
          html: runFragment(r.session, run).text,
          prompt: run.prompt?.id ?? null,
          promptHtml: promptFragment(r.session, run).text,
          finished: run.finished,
        });
        try {
          controller.enqueue(enc.encode(`event: update\ndata: ${data}\n\n`));
          if (run.finished) {
            closed = true;
            unsubscribe();
            controller.close();
          }
        } catch {
          stop();
        }
      };
      const schedule = () => {
        if (timer === undefined) timer = setTimeout(send, 250);
      };
      const unsubscribe = run.subscribe(schedule);
      const ping = setInterval(() => {
        try {
          if (!closed) controller.enqueue(enc.encode(": ping\n\n"));
        } catch {
          stop();
        }
      }, 15_000);
      stop = () => {
        closed = true;
        unsubscribe();
        clearInterval(ping);
        if (timer !== undefined) clearTimeout(timer);
      };
      ctx.closing.addEventListener("abort", () => {
        stop();
        try {
          controller.close();
        } catch { /* already closed */ }
      });
      send();
    },
    cancel() {
      stop();
    },
  });
  return withHeaders(
    new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" },
    }),
  );
}

function requestFrom(ctx: Ctx, f: Map<string, string>): RunRequest | string {
  const spec = f.get("spec") ?? "";
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\.ya?ml$/.test(spec)) return `invalid job spec ${q(spec)}`;
  const concurrency = Number(f.get("concurrency") || "4");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    return `cohort concurrency: expected 1-64, got ${q(f.get("concurrency"))}`;
  }
  // A profile of the config directory by name (as the page offers them), never a path.
  const site = f.get("site") ?? "";
  if (!NAME_RE.test(site)) return `invalid site ${q(site)}`;
  const each = (f.get("each") ?? "").trim();
  const fresh = f.get("fresh") === "1";
  if (fresh && each) return "a new job and a cohort exclude each other (as --new and --each)";
  return {
    spec: `${ctx.project}/${spec}`,
    site,
    dryRun: f.get("dry_run") === "1",
    ...(each ? { each } : {}),
    concurrency,
    fresh,
  };
}

function startRun(ctx: Ctx, r: Req): Response {
  const req = requestFrom(ctx, r.form);
  if (typeof req === "string") return refuse(400, req);
  return redirect(`/run/${ctx.runs.start(req).id}`);
}

async function cancelRun(ctx: Ctx, r: Req): Promise<Response> {
  const run = ctx.runs.get(r.params[0]!);
  if (!run) return refuse(404, "no such run");
  await run.cancel();
  return redirect(`/run/${run.id}`);
}

function resumeRun(ctx: Ctx, r: Req): Response {
  const run = ctx.runs.get(r.params[0]!);
  if (!run) return refuse(404, "no such run");
  return redirect(`/run/${ctx.runs.start({ ...run.request, fresh: false }).id}`);
}

function answer(ctx: Ctx, r: Req): Response {
  const run = ctx.runs.get(r.params[0]!);
  if (!run) return refuse(404, "no such run");
  if (!run.answer(r.form.get("prompt") ?? "", r.form.get("passphrase") ?? "")) {
    return refuse(409, "no such passphrase prompt (answered or cancelled)");
  }
  return redirect(`/run/${run.id}`);
}

const ID = "([0-9a-f]{16})";
export const runRoutes: Route[] = [
  { method: "GET", path: /^\/run$/, handler: runList },
  { method: "POST", path: /^\/run\/start$/, handler: startRun },
  { method: "GET", path: new RegExp(`^/run/${ID}$`), handler: runPage },
  { method: "GET", path: new RegExp(`^/run/${ID}/events$`), handler: runEvents },
  { method: "POST", path: new RegExp(`^/run/${ID}/cancel$`), handler: cancelRun },
  { method: "POST", path: new RegExp(`^/run/${ID}/resume$`), handler: resumeRun },
  { method: "POST", path: new RegExp(`^/run/${ID}/passphrase$`), handler: answer },
];
