/**
 * A real browser for the UI tests: Debian's Chromium, headless, driven over
 * the DevTools protocol on a WebSocket (Deno's own), no driver library. Each
 * browser has a fresh profile directory and is killed with it.
 */
import { hasProgram } from "../../src/util/exec.ts";

export const CHROMIUM = (await hasProgram("chromium")) ? "chromium" : undefined;
export const BROWSER_SKIP: string | false = CHROMIUM ? false : "chromium is not installed";

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class Page {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #events: ((method: string, params: Record<string, unknown>) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else for (const fn of this.#events) fn(msg.method, msg.params ?? {});
    };
  }

  static async connect(url: string): Promise<Page> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const page = new Page(ws);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    return page;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  onEvent(fn: (method: string, params: Record<string, unknown>) => void): void {
    this.#events.push(fn);
  }

  /** Evaluate an expression in the page; its (JSON) value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) {
      throw new Error(
        `in page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`,
      );
    }
    return r.result.value;
  }

  /** Wait until the expression is truthy (polling), or fail with what the page shows. */
  async waitFor(expression: string, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await this.eval<boolean>(`Boolean(${expression})`).catch(() => false)) {
        // What live updates brought in counts as seen too.
        this.seen.push(await this.html());
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const text = await this.eval<string>("document.body ? document.body.innerText : ''")
      .catch(() => "");
    throw new Error(`timed out waiting for ${expression}; the page shows:\n${text.slice(0, 3000)}`);
  }

  async goto(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.loaded();
  }

  /** Every document this page loaded or waited for, as HTML (for scans of what reached it). */
  readonly seen: string[] = [];

  /** The document is complete (after a navigation or a form submission). */
  async loaded(): Promise<void> {
    await new Promise((r) => setTimeout(r, 100));
    await this.waitFor("document.readyState === 'complete'");
    this.seen.push(await this.html());
  }

  /** Set form fields by their label's control id (f-NAME) and submit the form of `button`. */
  async fill(values: Record<string, string | boolean>): Promise<void> {
    await this.eval(`(() => {
      const values = ${JSON.stringify(values)};
      for (const [name, value] of Object.entries(values)) {
        const el = document.getElementById("f-" + name);
        if (!el) throw new Error("no field f-" + name);
        if (el.type === "checkbox") el.checked = Boolean(value);
        else el.value = value;
      }
    })()`);
  }

  /** Click the button with this text (a real click: mouse events at its position). */
  async click(text: string): Promise<void> {
    const box = await this.eval<{ x: number; y: number } | null>(`(() => {
      const b = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === ${
      JSON.stringify(text)
    });
      if (!b) return null;
      b.scrollIntoView({ block: "center" });
      const r = b.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!box) {
      throw new Error(`no button ${JSON.stringify(text)} on ${await this.eval("location.href")}`);
    }
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", { type, ...box, button: "left", clickCount: 1 });
    }
    await this.loaded();
  }

  async text(): Promise<string> {
    return await this.eval<string>("document.body.innerText");
  }

  async html(): Promise<string> {
    // Between two documents there is none: nothing to see then.
    return await this.eval<string>(
      "document.documentElement ? document.documentElement.outerHTML : ''",
    );
  }

  /** A screenshot at this window size, and how wide the page is there (for overflow checks). */
  async screenshot(
    width = 1280,
    height = 800,
  ): Promise<{ png: Uint8Array; scrollWidth: number }> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    try {
      const scrollWidth = await this.eval<number>("document.documentElement.scrollWidth");
      const r = await this.send("Page.captureScreenshot", { format: "png" }) as { data: string };
      return { png: Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0)), scrollWidth };
    } finally {
      await this.send("Emulation.clearDeviceMetricsOverride");
    }
  }

  close(): void {
    this.#ws.close();
  }
}

export interface Browser extends AsyncDisposable {
  page(): Promise<Page>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "sealbatch-chromium-" });
  const child = new Deno.Command(CHROMIUM!, {
    args: [
      "--headless=new",
      // Root in a container has no user namespace for Chromium's sandbox.
      ...(Deno.uid() === 0 ? ["--no-sandbox"] : []),
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "--window-size=1280,800",
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ws: string | undefined;
  const deadline = Date.now() + 30_000;
  while (!ws && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    ws = /DevTools listening on (ws:\/\/\S+)/.exec(buffer)?.[1];
  }
  // Keep draining stderr so Chromium never blocks on a full pipe.
  (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
  })();
  if (!ws) {
    child.kill("SIGKILL");
    throw new Error(`chromium did not start:\n${buffer}`);
  }
  const http = ws.replace(/^ws:\/\/([^/]+)\/.*$/, "http://$1");
  const pages: Page[] = [];
  return {
    async page() {
      const r = await fetch(`${http}/json/new?about:blank`, { method: "PUT" });
      const target = await r.json() as { webSocketDebuggerUrl: string };
      const p = await Page.connect(target.webSocketDebuggerUrl);
      pages.push(p);
      return p;
    },
    async [Symbol.asyncDispose]() {
      for (const p of pages) p.close();
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      // Chromium's helper processes may still write into the profile for a moment.
      for (let i = 0; i < 20; i++) {
        try {
          await Deno.remove(profile, { recursive: true });
          break;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}
