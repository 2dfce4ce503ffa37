/**
 * Sites: the profiles in the config directory, `site check` check by check
 * with its hints, and a form that writes a new profile (the template of
 * `site init`, validated by the loader `site check` uses, before anything is
 * written).
 */
import { loadSiteProfile } from "../../config/site.ts";
import { sitePath, sitesDir } from "../../config/site_path.ts";
import { siteTemplate } from "../../config/site_template.ts";
import { q, reason } from "../../util/errors.ts";
import { exists, writeFileAtomic } from "../../util/files.ts";
import { localUser, NAME_RE } from "../../util/user.ts";
import { columns, field, flash, form, type Html, html, layout } from "../html.ts";
import { LOCAL_SITE } from "../local_site.ts";
import { type Ctx, page, redirect, type Req, type Route } from "../server.ts";

export interface SiteEntry {
  name: string;
  path: string;
  error?: string;
}

/** Profiles in the config directory, by name. */
export async function siteProfiles(): Promise<SiteEntry[]> {
  const dir = sitesDir();
  const out: SiteEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^(.+)\.ya?ml$/.exec(e.name);
      if (!e.isFile || !m || !NAME_RE.test(m[1]!)) continue;
      const path = `${dir}/${e.name}`;
      const error = await loadSiteProfile(path).then(() => undefined, (err) => reason(err));
      out.push({ name: m[1]!, path, ...(error ? { error } : {}) });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The site choices of the run forms: the local executor first, then valid profiles. */
export async function siteOptions(): Promise<[string, string][]> {
  const sites = (await siteProfiles()).filter((s) => !s.error);
  return [
    [LOCAL_SITE, "local executor (stand-in site on this machine, as in 'sealbatch demo')"],
    ...sites.map((s): [string, string] => [s.name, s.name]),
  ];
}

function checkTable(ctx: Ctx, name: string): Html {
  const c = ctx.checks.get(name);
  if (!c) return html`<p class="muted">Not checked yet in this session.</p>`;
  if (c.error) return html`<p class="error-box" role="alert">Check failed: ${c.error}</p>`;
  const failed = c.lines.filter((l) => !l.ok).length;
  return html`
    <p>${failed === 0
      ? "All checks passed"
      : `${failed} of ${c.lines.length} checks failed`} (${new Date(c.at).toISOString().slice(
        11,
        19,
      )} UTC).</p>
    <div class="scroll">
      <table>
        <caption class="muted">site check ${name}</caption>
        ${columns("result", "check", "detail", "what to do")}
        <tbody>${c.lines.map((l) =>
          html`
            <tr>
              <td><span class="badge ${l.ok ? "ok" : "bad"}">${l.ok ? "ok" : "FAIL"}</span></td>
              <td>${l.check}</td>
              <td class="mono">${l.detail}</td>
              <td>${l.ok ? "" : l.hint ?? ""}</td>
            </tr>
          `
        )}</tbody>
      </table>
    </div>
  `;
}

async function sitesPage(ctx: Ctx, r: Req, draft?: { name: string; text: string; error?: string }) {
  const sites = await siteProfiles();
  const name = draft?.name ?? r.url.searchParams.get("name") ?? "";
  const text = draft?.text ?? (NAME_RE.test(name) ? siteTemplate(name, localUser()) : "");
  const body = html`
    ${flash(r.url.searchParams.get("written") ?? undefined)}
    <p>Profiles in <code>${sitesDir()}</code>. Checks are read-only: nothing is created anywhere.</p>
    <section aria-labelledby="local-h">
      <h2 id="local-h">local executor</h2>
      <p>A stand-in site on this machine, as in <code>sealbatch demo</code>: a development Vault in this
    process (loopback only), a local node and a directory standing in for the shared file system.
    No HPC account needed; nothing leaves this machine.</p>
    </section>
    ${sites.length === 0
      ? html`<p>No site profiles yet: write one below.</p>`
      : sites.map((s) =>
        html`<section aria-labelledby="site-${s.name}"><h2 id="site-${s.name}">${s.name}</h2>
<p><code>${s.path}</code>: ${
          s.error
            ? html`<span class="badge bad">invalid</span> <span class="error-box">${s.error}</span>`
            : html`<span class="badge ok">valid</span>`
        }</p>
${
          s.error ? "" : form(
            r.session,
            `/sites/${encodeURIComponent(s.name)}/check`,
            html`<button type="submit">Check ${s.name}</button>`,
            { cls: "inline" },
          )
        }
${s.error ? "" : checkTable(ctx, s.name)}</section>`
      )}
    <section aria-labelledby="new-h"><h2 id="new-h">New site profile</h2>
    <form method="get" action="/sites" class="stack" aria-label="Start from the template">
    ${field({
      name: "name",
      label: "Site name",
      value: name,
      help: "letters, digits, '.', '_' and '-'",
    })}
    <div><button type="submit" class="secondary">Fill in the template</button></div></form>
    ${text
      ? form(
        r.session,
        "/sites/new",
        html`
          <input type="hidden" name="name" value="${name}">
          <div class="field${draft?.error
            ? " invalid"
            : ""}"><label for="f-profile">Profile of ${name} (YAML)</label>
          <textarea id="f-profile" name="profile" spellcheck="false"${draft?.error
            ? html`
              aria-invalid="true" aria-describedby="f-profile-error"
            `
            : ""}>${text}</textarea>
          ${draft?.error
            ? html`<span class="error" id="f-profile-error">Error: ${draft.error}</span>`
            : ""}
          </div>
          <div><button type="submit">Write profile</button></div>
        `,
        { cls: "stack", label: "New site profile" },
      )
      : ""}</section>
  `;
  return page(layout("Sites", "/sites", body), draft?.error ? 422 : 200);
}

async function writeProfile(ctx: Ctx, r: Req): Promise<Response> {
  const name = r.form.get("name") ?? "";
  const text = r.form.get("profile") ?? "";
  if (!NAME_RE.test(name)) {
    return sitesPage(ctx, r, {
      name,
      text,
      error: `invalid site name ${q(name)} (letters, digits, '.', '_' and '-')`,
    });
  }
  const path = sitePath(name);
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (await exists(path)) {
    return sitesPage(ctx, r, { name, text, error: `cannot write ${q(path)}: it already exists` });
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // Validated under a temporary name beside the target, so relative paths and messages match it.
  const tmp = `${dir}/.${name}.${crypto.randomUUID().slice(0, 8)}.yaml`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o600 });
    const profile = await loadSiteProfile(tmp);
    if (profile.name !== name) {
      throw new Error(`${path}: the profile's name is ${q(profile.name)}, not ${q(name)}`);
    }
  } catch (err) {
    return sitesPage(ctx, r, { name, text, error: reason(err).replaceAll(tmp, path) });
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  await writeFileAtomic(path, text, { mode: 0o600 });
  return redirect(`/sites?written=${encodeURIComponent(`wrote ${path}`)}#site-${name}`);
}

async function checkSite(ctx: Ctx, r: Req): Promise<Response> {
  const name = r.params[0]!;
  const { checkProfile } = await import("../../run/doctor.ts");
  try {
    const profile = await loadSiteProfile(sitePath(name));
    ctx.checks.set(name, { at: Date.now(), lines: await checkProfile(profile) });
  } catch (err) {
    ctx.checks.set(name, { at: Date.now(), lines: [], error: reason(err) });
  }
  return redirect(`/sites#site-${name}`);
}

export const siteRoutes: Route[] = [
  { method: "GET", path: /^\/sites$/, handler: (ctx, r) => sitesPage(ctx, r) },
  { method: "POST", path: /^\/sites\/new$/, handler: writeProfile },
  { method: "POST", path: /^\/sites\/([A-Za-z0-9_][A-Za-z0-9_.-]*)\/check$/, handler: checkSite },
];
