/**
 * HTML for the UI's pages: one layout, escaped values everywhere (a path, a
 * job name or a remote error can hold anything), labelled controls.
 */
import { CSRF_FIELD, type Session } from "./guard.ts";

/** Escaped text: the only way a value gets into a page. */
export function esc(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A trusted HTML fragment (built from esc'd parts). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Template tag: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(parts: TemplateStringsArray, ...values: unknown[]): Html {
  let out = parts[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (parts[i + 1] ?? "");
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  if (v === undefined || v === null || v === false) return "";
  return esc(v);
}

/** A table's column headers (scope="col", for screen readers). */
export function columns(...names: string[]): Html {
  return html`
    <thead>
      <tr>${names.map((n) => html`<th scope="col">${n}</th>`)}</tr>
    </thead>
  `;
}

export const PAGES = [
  ["/sites", "Sites"],
  ["/new", "New job"],
  ["/run", "Run"],
  ["/jobs", "Jobs"],
  ["/results", "Results"],
] as const;

export function layout(title: string, current: string, body: Html): string {
  const nav = PAGES.map(([href, label]) =>
    html`<li><a href="${href}"${new Html(
      current === href ? ' aria-current="page"' : "",
    )}>${label}</a></li>`
  );
  return "<!doctype html>\n" + html`
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} - sealbatch</title>
        <link rel="stylesheet" href="/assets/app.css">
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header><span class="brand">sealbatch</span>
    <nav aria-label="Pages"><ul>${nav}</ul></nav></header>
        <main id="main"><h1>${title}</h1>
    ${body}
        </main>
      </body>
    </html>
  `.text;
}

/** A page for someone without a session: nothing of the project is shown. */
export function bare(title: string, body: Html, head: Html = html``): string {
  return "<!doctype html>\n" + html`
    <html lang="en">
      <head>
        <meta charset="utf-8">${head}
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} - sealbatch</title>
        <link rel="stylesheet" href="/assets/app.css">
      </head>
      <body>
        <header><span class="brand">sealbatch</span></header>
        <main id="main"><h1>${title}</h1>${body}</main>
      </body>
    </html>
  `.text;
}

/** A POST form carrying the session's CSRF token. */
export function form(
  session: Session,
  action: string,
  body: Html,
  opts: { cls?: string; label?: string } = {},
): Html {
  return html`
    <form method="post" action="${action}" ${new Html(
      opts.cls ? ` class="${esc(opts.cls)}"` : "",
    )}${new Html(opts.label ? ` aria-label="${esc(opts.label)}"` : "")}>
    <input type="hidden" name="${CSRF_FIELD}" value="${session.csrf}">${body}</form>
  `;
}

export interface FieldOptions {
  name: string;
  label: string;
  value?: string;
  help?: string;
  error?: string;
  type?: "text" | "password" | "number";
  required?: boolean;
  placeholder?: string;
}

/** A labelled input; its help and error are tied to it for screen readers. */
export function field(o: FieldOptions): Html {
  const id = `f-${o.name}`;
  const described = [o.help ? `${id}-help` : "", o.error ? `${id}-error` : ""].filter(Boolean);
  return html`<div class="field${new Html(o.error ? " invalid" : "")}">
<label for="${id}">${o.label}</label>
<input type="${o.type ?? "text"}" id="${id}" name="${o.name}" value="${o.value ?? ""}"${new Html(
    o.required ? " required" : "",
  )}${new Html(o.placeholder ? ` placeholder="${esc(o.placeholder)}"` : "")}${new Html(
    described.length ? ` aria-describedby="${described.join(" ")}"` : "",
  )}${
    // The field in error takes the focus, so keyboard and screen reader users land on it.
    new Html(o.error ? ' aria-invalid="true" autofocus' : "")} autocomplete="off">
${o.help ? html`<span class="help" id="${id}-help">${o.help}</span>` : ""}
${o.error ? html`<span class="error" id="${id}-error">Error: ${o.error}</span>` : ""}
</div>`;
}

export function select(
  o: {
    name: string;
    label: string;
    options: [string, string][];
    value?: string;
    help?: string;
    error?: string;
  },
): Html {
  const id = `f-${o.name}`;
  const described = [o.help ? `${id}-help` : "", o.error ? `${id}-error` : ""].filter(Boolean);
  return html`<div class="field${new Html(o.error ? " invalid" : "")}">
<label for="${id}">${o.label}</label>
<select id="${id}" name="${o.name}"${new Html(
    described.length ? ` aria-describedby="${described.join(" ")}"` : "",
  )}>${
    o.options.map(([v, text]) =>
      html`
        <option value="${v}" ${new Html(v === o.value ? " selected" : "")}>${text}</option>
      `
    )
  }</select>
${o.help ? html`<span class="help" id="${id}-help">${o.help}</span>` : ""}
${o.error ? html`<span class="error" id="${id}-error">Error: ${o.error}</span>` : ""}
</div>`;
}

export function checkbox(o: { name: string; label: string; checked?: boolean }): Html {
  return html`<div><input type="checkbox" id="f-${o.name}" name="${o.name}" value="1"${new Html(
    o.checked ? " checked" : "",
  )}> <label for="f-${o.name}">${o.label}</label></div>`;
}

export function flash(text: string | undefined, bad = false): Html {
  if (!text) return html``;
  return html`<p class="flash${new Html(bad ? " bad" : "")}" role="${
    bad ? "alert" : "status"
  }">${text}</p>`;
}
