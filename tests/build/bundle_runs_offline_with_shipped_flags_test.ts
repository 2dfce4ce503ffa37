import assert from "node:assert/strict";
import { decode } from "fast-png";
import { ROOT, tempDir } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { permissionFlags } from "../../src/util/permissions.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { buildBundle, canUnshareNet, isolate, runBundle } from "./bundle_helper.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { memoryDir } from "../run/_memory.ts";

/**
 * What the offline bundle must complete, in order, in one working directory.
 * Adding a command to the proof is one line here.
 */
const STEPS: [args: string[], check?: (r: CliResult) => void][] = [
  // "0.1.0 (commit ..., built ...; Deno ...)": the version is the first word.
  [["--version"], (r) => assert.equal(r.stdout.trim().split(" ")[0], denoJson.version)],
  [["--help"], (r) => assert.match(r.stdout, /Examples:/)],
  [["sample", "shepp-logan", "--out", "input"]],
  [["view", "input/shepp_logan.cfl", "--out", "kspace.png", "--log"]],
  [["keygen", "--kind", "user", "--name", "a", "--email", "a@example.org", "--out", "keys"]],
  // The whole tutorial: dev Vault on loopback, the node side started by the bundle itself.
  [
    ["demo", "--dir", "demo"],
    (r) => assert.match(r.stdout, /ran on the local executor[^]*^total\s/m),
  ],
];

/** Starts `sealbatch ui` ("$@ ui --no-open"), then reads its login page, a page and its script. */
const UI_CLIENT = `"$@" > ui.url 2> ui.err & pid=$!
i=0; while [ ! -s ui.url ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
url=$(head -n 1 ui.url); base=\${url%%/login*}
curl -sS -i "$base/login" && echo "=== next" &&
curl -sS -c jar -o /dev/null "$url" && curl -sS -b jar "$base/sites" && echo "=== next" &&
curl -sS -b jar "$base/assets/app.js"; rc=$?
kill $pid; cat ui.err >&2; exit $rc`;

const offline = await canUnshareNet();

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      found.push(
        entry.name,
        ...(entry.isDirectory ? await filesUnder(`${dir}/${entry.name}`) : []),
      );
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found;
}

Deno.test({
  name: "the bundle alone, empty DENO_DIR, shipped flags, no network: runs every step " +
    "(needs root for unshare -n)",
  ignore: !offline,
  async fn() {
    await using dist = await tempDir("sealbatch-dist");
    await using work = await tempDir("sealbatch-offline");
    const bundle = await isolate(await buildBundle(dist.path), work.path);
    // The demo's node keeps job keys on memory-backed storage only.
    await using memory = await memoryDir();
    const run = {
      cwd: work.path,
      bundle,
      flags: permissionFlags(),
      offline: true,
      env: memory.env,
    };

    for (const [args, check] of STEPS) {
      const r = await runBundle(run, args);
      assert.equal(r.code, 0, `sealbatch ${args.join(" ")} failed:\n${r.stderr}`);
      check?.(r);
    }
    // The UI from the bundle alone: its pages, styles and script come from inside it.
    const ui = await runBundle(run, ["ui", "--no-open"], UI_CLIENT);
    assert.equal(ui.code, 0, `sealbatch ui failed:\n${ui.stderr}\n${ui.stdout}`);
    const [login, sites, script] = ui.stdout.split("=== next\n");
    assert.match(login!, /^HTTP\/1\.1 200 /);
    assert.match(login!, /^content-security-policy: default-src 'none'/m);
    assert.match(login!, /one-time login token/);
    assert.match(sites!, /<h1>Sites<\/h1>[^]*local executor/);
    assert.match(script!, /EventSource/);

    const png = decode(await Deno.readFile(`${work.path}/kspace.png`));
    assert.equal(png.width, 256);
    assert.equal(png.height, 256);
    const demoPng = (await hasProgram("bart")) ? "reconstruction.png" : "kspace.png";
    assert.equal(decode(await Deno.readFile(`${work.path}/demo/${demoPng}`)).width, 256);
    // Nothing was fetched: the DENO_DIR (empty before) holds no npm package or remote module.
    assert.deepEqual(await filesUnder(`${work.path}/.deno/npm`), []);
    assert.deepEqual(await filesUnder(`${work.path}/.deno/remote`), []);
    // Nor by the node side the demo started (its DENO_DIR defaults to HOME/.cache/deno).
    assert.deepEqual(await filesUnder(`${work.path}/.home/.cache/deno/npm`), []);
    await assert.rejects(Deno.stat(`${work.path}/node_modules`), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "unshare -n leaves only the loopback interface (the proof above means something)",
  ignore: !offline,
  async fn() {
    const r = await exec("unshare", ["-n", "cat", "/proc/net/dev"]);
    const interfaces = r.text.split("\n").map((l) => l.match(/^\s*([^\s:]+):/)?.[1])
      .filter((name) => name !== undefined);
    assert.deepEqual(interfaces, ["lo"]);
  },
});

Deno.test("main.ts imports the runtime shims first (ssh2 needs them inside the bundle)", async () => {
  const main = await Deno.readTextFile(`${ROOT}/main.ts`);
  const first = main.match(/^import\s[^;]*;/m)?.[0];
  assert.equal(first, 'import "./src/runtime_shims.ts";');
});
