/**
 * Jobs: the table of `job list`, and each job's page as `job show`, with the
 * key status of its escrowed credentials (`keys status`, which consumes
 * nothing): a credential used while the job had not started is the
 * interception alarm, shown on both pages. A failed job's stderr comes from
 * its opened results on this machine. The credentials themselves are never
 * shown.
 */
import { outcome } from "../../cli/job_list.ts";
import { type JobKeyStatus, keyStatus } from "../../kms/followup.ts";
import { readRecord, recordExists } from "../../kms/job_record.ts";
import { VaultClient, vaultSettings } from "../../kms/vault_client.ts";
import { type JobEntry, listJobs, showJob } from "../../run/project.ts";
import { reason } from "../../util/errors.ts";
import { readTextCapped } from "../../util/files.ts";
import { columns, type Html, html, layout } from "../html.ts";
import { type Ctx, page, type Req, type Route } from "../server.ts";

type KeyView = { status: JobKeyStatus } | { error: string } | undefined;

/** Key status of each job whose credentials are not revoked yet (one Vault client per address). */
async function keyViews(ctx: Ctx, jobs: JobEntry[]): Promise<Map<string, KeyView>> {
  const out = new Map<string, KeyView>();
  const clients = new Map<string, Promise<VaultClient>>();
  try {
    await Promise.all(jobs.map(async (j) => {
      if (!(await recordExists(ctx.stateRoot, j.job))) return;
      try {
        const record = await readRecord(ctx.stateRoot, j.job);
        if (record.revoked_at) return;
        let client = clients.get(record.vault_addr);
        if (!client) {
          client = VaultClient.connect(vaultSettings({ addr: record.vault_addr }));
          clients.set(record.vault_addr, client);
        }
        // Not submitted yet: the job cannot have fetched its keys, so any use is someone else's.
        const submitted = j.steps.includes("submit");
        const status = await keyStatus(
          await client,
          record,
          submitted ? {} : { jobStarted: false },
        );
        out.set(j.job, { status });
      } catch (err) {
        out.set(j.job, { error: reason(err) });
      }
    }));
  } finally {
    for (const c of clients.values()) (await c.catch(() => undefined))?.close();
  }
  return out;
}

function keyCell(k: KeyView): Html {
  if (!k) return html`<span class="muted">revoked or none</span>`;
  if ("error" in k) return html`<span class="muted">unknown: ${k.error}</span>`;
  if (k.status.interception) return html`<strong class="bad">ALARM: possible interception</strong>`;
  return html`${k.status.keys.map((x) => `${x.name} ${x.state}`).join(", ")}`;
}

function alarm(job: string, k: KeyView): Html {
  if (!k || "error" in k || !k.status.interception) return html``;
  const used = k.status.keys.filter((x) => x.interception).map((x) => x.name).join(", ");
  return html`<div class="alarm" role="alert"><strong>ALARM: possible interception of job
<a href="/jobs/${encodeURIComponent(job)}">${job}</a>.</strong> Its credential (${used}) was used
although the job has not started: someone else may hold the key. Revoke the keys now:
<code>sealbatch keys revoke --job ${job}</code></div>`;
}

async function jobsPage(ctx: Ctx): Promise<Response> {
  const jobs = await listJobs(ctx.stateRoot);
  const keys = await keyViews(ctx, jobs);
  const active = ctx.runs.activeJobs();
  const body = html`${jobs.map((j) => alarm(j.job, keys.get(j.job)))}
${
    jobs.length === 0 ? html`<p>No jobs in this project yet.</p>` : html`
      <div class="scroll">
        <table>
          <caption class="muted">jobs of ${ctx.project}</caption>
          ${columns("job", "created", "slurm", "state", "keys", "spec")}
          <tbody>${jobs.map((j) =>
            html`
              <tr>
                <td><a href="/jobs/${encodeURIComponent(j.job)}">${j.job}</a></td>
                <td>${j.plan?.createdAt.slice(0, 19).replace("T", " ") ?? "-"}</td>
                <td>${j.slurmJob ?? "-"}</td>
                <td>${outcome(j)}${active.has(j.job)
                  ? html`
                    <span class="badge">running now</span>
                  `
                  : ""}</td>
                <td>${keyCell(keys.get(j.job))}</td>
                <td>${j.plan?.spec.slice(j.plan.spec.lastIndexOf("/") + 1) ?? "-"}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    `
  }`;
  return page(layout("Jobs", "/jobs", body));
}

const MAX_STDERR = 64 * 1024;

async function jobPage(ctx: Ctx, r: Req): Promise<Response> {
  const j = await showJob(ctx.stateRoot, r.params[0]!);
  const k = (await keyViews(ctx, [j])).get(j.job);
  const failed = j.exitCode !== undefined && j.exitCode !== 0;
  const stderr = failed && j.plan
    ? await readTextCapped(`${j.plan.outputs}/job.stderr`, MAX_STDERR, "job stderr").catch(() =>
      undefined
    )
    : undefined;
  const rcpt = j.receipt;
  const body = html`
    ${alarm(j.job, k)}
    <div class="scroll">
      <table>
        <tbody>
          <tr>
            <th scope="row">state</th>
            <td>${outcome(j)}</td>
          </tr>
          <tr>
            <th scope="row">spec</th>
            <td>${j.plan?.spec ?? "-"}</td>
          </tr>
          <tr>
            <th scope="row">input</th>
            <td>${j.plan?.input ?? "-"}</td>
          </tr>
          <tr>
            <th scope="row">outputs</th>
            <td>${j.steps.includes("open-results") && j.plan
              ? html`<a href="/results/${encodeURIComponent(j.job)}">${j.plan.outputs}</a>`
              : j.plan?.outputs ?? "-"}</td>
          </tr>
          <tr>
            <th scope="row">slurm</th>
            <td>${j.slurmJob ?? "-"}${j.slurmState ? ` (${j.slurmState})` : ""}</td>
          </tr>
          <tr>
            <th scope="row">steps</th>
            <td>${j.steps.join(", ") || "-"}</td>
          </tr>
          <tr>
            <th scope="row">receipt</th>
            <td>${rcpt
              ? html`
                <span
                  class="badge ok">verified</span> signed by the node key<br>nonce ${rcpt
                    .nonce}, user ${rcpt.user}, exit ${rcpt.exit_code}<br>${rcpt
                    .started_at} .. ${rcpt.ended_at}<br>results ${rcpt.results
                    ? `${rcpt.results.path} sha256 ${rcpt.results.sha256}`
                    : "none"}
              `
              : html`<span class="badge">none yet</span>`}</td>
          </tr>
        </tbody>
      </table>
    </div>
    <h2>Keys</h2>${!k
      ? html`<p>Revoked (or never escrowed): nothing of this job is left in Vault.</p>`
      : "error" in k
      ? html`<p>Key status unknown: ${k.error}</p>`
      : html`
        <div class="scroll">
          <table>
            ${columns("key", "credential", "expires", "alarm")}
            <tbody>${k.status.keys.map((x) =>
              html`
                <tr>
                  <td>${x.name}</td>
                  <td>${x.state}</td>
                  <td>${x.expires_at}</td>
                  <td>${x.interception
                    ? html`<strong class="bad">POSSIBLE INTERCEPTION</strong>`
                    : "none"}</td>
                </tr>
              `
            )}</tbody>
          </table>
        </div>
      `}
    ${stderr !== undefined
      ? html`
        <h2>stderr (decrypted from the results on this machine)</h2>
        <pre>${stderr}</pre>
      `
      : ""}<p><a href="/jobs">All jobs</a></p>
  `;
  return page(layout(`Job ${j.job}`, "/jobs", body));
}

export const jobRoutes: Route[] = [
  { method: "GET", path: /^\/jobs$/, handler: jobsPage },
  { method: "GET", path: /^\/jobs\/([A-Za-z0-9_][A-Za-z0-9_.-]*)$/, handler: jobPage },
];
