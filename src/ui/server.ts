/**
 * `sealbatch ui`: the secure workflow in a browser, served on loopback only.
 * A thin layer like the CLI: every page calls the same steps (site check,
 * job spec loader, run, job list/show, view). Who may use it is decided in
 * guard.ts before any handler runs; all HTML, CSS and JS come from this
 * module graph (assets.ts), nothing from disk or the network.
 */
import type { CheckLine } from "../remote/check.ts";
import { q, reason, SealbatchError, usageError } from "../util/errors.ts";
import { CSS, JS } from "./assets.ts";
import { CSRF_FIELD, Guard, LOOPBACK, SECURITY_HEADERS, type Session } from "./guard.ts";
import { bare, html, layout } from "./html.ts";
import { LocalSite } from "./local_site.ts";
import { Runs } from "./runs.ts";
import { routes } from "./routes.ts";

export interface UiOptions {
  project: string;
  /** 0: a free port. */
  port: number;
  /** Loopback only; anything else is refused before listening. */
  hostname?: string;
}

export interface UiServer {
  url: string;
  port: number;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** What every handler gets. */
export interface Ctx {
  project: string;
  stateRoot: string;
  runs: Runs;
  local(): Promise<LocalSite>;
  /** Results of `site check` per site, from this process. */
  checks: Map<string, { at: number; lines: CheckLine[]; error?: string }>;
  /** Aborted when the server stops: open event streams end. */
  closing: AbortSignal;
}

export interface Req {
  req: Request;
  url: URL;
  session: Session;
  params: string[];
  /** Form fields of a POST (parsed once, after the CSRF check). */
  form: Map<string, string>;
}

export type Handler = (ctx: Ctx, r: Req) => Promise<Response> | Response;

export interface Route {
  method: "GET" | "POST";
  path: RegExp;
  handler: Handler;
}

function respond(body: BodyInit | null, init: ResponseInit & { type?: string } = {}): Response {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) headers.set(k, v);
  if (init.type) headers.set("content-type", init.type);
  return new Response(body, { status: init.status ?? 200, headers });
}

export function page(text: string, status = 200): Response {
  return respond(text, { status, type: "text/html; charset=utf-8" });
}

export function redirect(to: string): Response {
  return respond(null, { status: 303, headers: { location: to } });
}

export function refuse(status: number, why: string): Response {
  return respond(`${status} ${why}\n`, { status, type: "text/plain; charset=utf-8" });
}

export function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.headers.set(k, v);
  return res;
}

const MAX_FORM_BYTES = 256 * 1024;

async function readForm(req: Request): Promise<Map<string, string> | undefined> {
  const type = req.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return undefined;
  const text = await req.text();
  if (text.length > MAX_FORM_BYTES) return undefined;
  return new Map(new URLSearchParams(text));
}

export async function startUi(opts: UiOptions): Promise<UiServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  if (!LOOPBACK.includes(hostname)) {
    throw usageError(`sealbatch ui listens on loopback only, not on ${q(hostname)}`, {
      hint: "the UI is for this machine's browser; it is never served to the network",
    });
  }
  const project = (opts.project.startsWith("/") ? opts.project : `${Deno.cwd()}/${opts.project}`)
    .replace(/\/(\.\/)+/g, "/").replace(/\/+$/, "") || "/";
  if (!(await Deno.stat(project).catch(() => undefined))?.isDirectory) {
    throw usageError(`project directory ${q(project)} does not exist`);
  }
  let localSite: Promise<LocalSite> | undefined;
  const closing = new AbortController();
  const runs = new Runs(project, () => ctx.local());
  const ctx: Ctx = {
    project,
    stateRoot: runs.stateRoot,
    runs,
    local: () => {
      localSite ??= LocalSite.start(runs.stateRoot);
      localSite.catch(() => (localSite = undefined));
      return localSite;
    },
    checks: new Map(),
    closing: closing.signal,
  };
  await runs.load();
  const table = routes();

  const handle = async (req: Request): Promise<Response> => {
    // Requests are handled on later ticks, after `guard` below exists.
    const g = guard;
    const url = new URL(req.url);
    const login = req.method === "GET" && url.pathname === "/login";
    // The login address may be opened from elsewhere (a terminal, the file xdg-open gets):
    // the token is what counts there. Everything else must come from this server's pages.
    const source = g.checkSource(req, { crossSiteNavigation: login });
    if (!source.ok) return refuse(source.status, source.why);
    if (login) {
      const token = url.searchParams.get("token");
      if (token === null) {
        return page(bare(
          "Log in",
          html`<p>Open the address that <code>sealbatch ui</code> printed when it started; it
holds a one-time login token. To log in again, restart <code>sealbatch ui</code>.</p>`,
        ));
      }
      const s = g.login(token);
      if (!s) return refuse(403, "login token wrong or already used; restart sealbatch ui");
      // A page, not a redirect: a navigation that started on another site would not carry
      // the SameSite=Strict cookie; one that starts on this page does.
      return respond(
        bare(
          "Logged in",
          html`<p><a href="/run">Continue to sealbatch</a></p>`,
          html`<meta http-equiv="refresh" content="0;url=/run">`,
        ),
        {
          type: "text/html; charset=utf-8",
          headers: { "set-cookie": Guard.cookieHeader(s) },
        },
      );
    }
    // The style and the script hold nothing of the project: the login page uses them too.
    if (req.method === "GET" && url.pathname === "/assets/app.css") {
      return respond(CSS, { type: "text/css; charset=utf-8" });
    }
    if (req.method === "GET" && url.pathname === "/assets/app.js") {
      return respond(JS, { type: "text/javascript; charset=utf-8" });
    }
    const session = g.session(req);
    if (!session) {
      if (req.method === "GET" && url.pathname === "/") return redirect("/login");
      return refuse(403, "no session: open the login address sealbatch ui printed");
    }
    let form = new Map<string, string>();
    if (req.method === "POST") {
      const parsed = await readForm(req);
      if (!parsed) return refuse(400, "expected a form (application/x-www-form-urlencoded)");
      if (!Guard.csrfOk(session, parsed.get(CSRF_FIELD))) {
        return refuse(403, "missing or wrong CSRF token");
      }
      form = parsed;
    } else if (req.method !== "GET") {
      return refuse(405, "method not allowed");
    }
    for (const route of table) {
      if (route.method !== req.method) continue;
      const m = route.path.exec(url.pathname);
      if (!m) continue;
      try {
        return await route.handler(ctx, {
          req,
          url,
          session,
          params: m.slice(1).map(decodeURIComponent),
          form,
        });
      } catch (err) {
        const hint = err instanceof SealbatchError && err.hint
          ? html`<p>hint: ${err.hint}</p>`
          : "";
        const status = err instanceof SealbatchError && err.kind === "input" ? 404 : 500;
        return page(
          layout(
            "Error",
            "",
            html`<p class="error-box" role="alert">Error: ${reason(err)}</p>${hint}`,
          ),
          status,
        );
      }
    }
    return refuse(404, "not found");
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: opts.port,
      onListen: () => {},
      onError: (err) => refuse(500, reason(err)),
    }, handle);
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    throw usageError(`cannot listen on ${hostname}:${opts.port}: the port is in use`, {
      hint: "choose another with --port N, or leave it out for a free one",
    });
  }
  const addr = server.addr;
  if (!LOOPBACK.includes(addr.hostname)) {
    await server.shutdown();
    throw usageError(`refusing to serve on ${q(addr.hostname)}: not loopback`);
  }
  const guard = new Guard(addr.port);
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}/login?token=${guard.loginToken}`,
    port: addr.port,
    finished: server.finished,
    shutdown: async () => {
      closing.abort();
      await server.shutdown();
      const local = await localSite?.catch(() => undefined);
      await local?.close();
    },
  };
}
