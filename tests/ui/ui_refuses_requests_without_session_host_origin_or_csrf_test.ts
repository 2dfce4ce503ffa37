/**
 * Who may use `sealbatch ui`: only the browser that spent the one-time login
 * token. Requests without the session, with a wrong Host (DNS rebinding),
 * from another origin, without the CSRF token, or with the login token a
 * second time are refused (403/400) and change nothing; the server listens
 * on loopback only and refuses any other address.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { startUi } from "../../src/ui/server.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { startUiProcess } from "./_ui.ts";

async function status(r: Promise<Response>): Promise<number> {
  const res = await r;
  await res.body?.cancel();
  return res.status;
}

/** fetch() always sends the real Host: a raw request says what a rebound DNS name would. */
async function rawStatus(port: number, host: string, cookie: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /jobs HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return Number(
      /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n ?? 0)))?.[1],
    );
  } finally {
    conn.close();
  }
}

const FORM = "application/x-www-form-urlencoded";

function jobForm(csrf?: string): string {
  const f = new URLSearchParams({
    file: "job.yaml",
    name: "bart-fft",
    input: "input",
    command: "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft",
    outputs: "results",
  });
  if (csrf) f.set("_csrf", csrf);
  return f.toString();
}

Deno.test("ui refuses requests without the session, with a wrong Host, from another Origin, without the CSRF token, and a reused login token", async () => {
  await using dir = await tempDir("sealbatch-ui-sec");
  await Deno.mkdir(`${dir.path}/input`);
  await using ui = await startUiProcess(dir.path);
  const o = ui.origin;

  // No session yet: pages and actions are refused, the login page says what to do.
  assert.equal(await status(fetch(`${o}/jobs`)), 403);
  assert.equal(
    await status(
      fetch(`${o}/new`, { method: "POST", headers: { "content-type": FORM }, body: jobForm() }),
    ),
    403,
  );
  const loginPage = await fetch(`${o}/login`);
  assert.equal(loginPage.status, 200);
  assert.match(await loginPage.text(), /one-time login token/);
  // A wrong token buys nothing.
  const wrong = await fetch(`${o}/login?token=${"0".repeat(64)}`, { redirect: "manual" });
  await wrong.body?.cancel();
  assert.equal(wrong.status, 403);
  assert.equal(wrong.headers.get("set-cookie"), null);

  // The token buys a cookie that is HttpOnly, SameSite=Strict and has no lifetime of its own.
  const first = await fetch(ui.url, { redirect: "manual" });
  await first.body?.cancel();
  const setCookie = first.headers.get("set-cookie")!;
  assert.match(setCookie, /^sealbatch_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
  const cookie = setCookie.split(";")[0]!;
  const csrf = /<input type="hidden" name="_csrf" value="([0-9a-f]+)">/.exec(
    await (await fetch(`${o}/run`, { headers: { cookie } })).text(),
  )![1]!;
  const again = await fetch(ui.url, { redirect: "manual" });
  await again.body?.cancel();
  assert.equal(again.status, 403, "the login token works once");
  assert.equal(again.headers.get("set-cookie"), null);

  // With the session: pages work, and carry the strict policy.
  const jobs = await fetch(`${o}/jobs`, { headers: { cookie } });
  assert.equal(jobs.status, 200);
  await jobs.body?.cancel();
  assert.match(jobs.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.match(jobs.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
  assert.equal(jobs.headers.get("x-frame-options"), "DENY");

  // DNS rebinding: the session cookie would go along, the Host header gives it away.
  assert.equal(await rawStatus(ui.port, `evil.example:${ui.port}`, cookie), 400);
  assert.equal(await rawStatus(ui.port, "127.0.0.1:1", cookie), 400);
  assert.equal(await rawStatus(ui.port, `127.0.0.1:${ui.port}`, cookie), 200);

  const post = (headers: Record<string, string>, body: string) =>
    status(fetch(`${o}/new`, {
      method: "POST",
      headers: { cookie, "content-type": FORM, ...headers },
      body,
    }));
  // Another origin, even with the right token (a page elsewhere cannot read it, but still).
  assert.equal(await post({ origin: "http://evil.example" }, jobForm(csrf)), 403);
  assert.equal(await post({ "sec-fetch-site": "cross-site" }, jobForm(csrf)), 403);
  // No CSRF token, or a wrong one.
  assert.equal(await post({ origin: o }, jobForm()), 403);
  assert.equal(await post({ origin: o }, jobForm("ab".repeat(32))), 403);
  assert.equal(
    await status(fetch(`${o}/run/start`, {
      method: "POST",
      headers: { cookie, "content-type": FORM, origin: o },
      body: "spec=job.yaml&site=local",
    })),
    403,
  );
  // Nothing was done by any of them.
  await assert.rejects(Deno.stat(`${dir.path}/job.yaml`), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(`${dir.path}/.sealbatch/ui-runs.json`), Deno.errors.NotFound);

  // The same request with the token from the page is accepted (so the refusals above were real).
  const ok = await fetch(`${o}/new`, {
    method: "POST",
    headers: { cookie, "content-type": FORM, origin: o },
    body: jobForm(csrf),
    redirect: "manual",
  });
  await ok.body?.cancel();
  assert.equal(ok.status, 303);
  assert.match(await Deno.readTextFile(`${dir.path}/job.yaml`), /^name: bart-fft$/m);

  // Loopback only: the port is closed on every other address of this machine.
  for (const ni of Deno.networkInterfaces()) {
    if (ni.family !== "IPv4" || ni.address.startsWith("127.")) continue;
    await assert.rejects(
      Deno.connect({ hostname: ni.address, port: ui.port }).then((c) => c.close()),
      `port ${ui.port} answers on ${ni.address}`,
    );
  }
});

Deno.test("ui refuses to listen on anything but loopback", async () => {
  await using dir = await tempDir("sealbatch-ui-listen");
  for (const hostname of ["0.0.0.0", "::", "192.168.1.10", "example.org"]) {
    await assert.rejects(
      startUi({ project: dir.path, port: 0, hostname }),
      (err) => err instanceof SealbatchError && /loopback only/.test(err.message),
    );
  }
  // Loopback itself works (so the refusals are about the address).
  const ui = await startUi({ project: dir.path, port: 0, hostname: "127.0.0.1" });
  assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=[0-9a-f]{64}$/);
  // A taken port is a clear refusal too, not a crash.
  await assert.rejects(
    startUi({ project: dir.path, port: ui.port }),
    (err) => err instanceof SealbatchError && /the port is in use/.test(err.message),
  );
  await ui.shutdown();
});
