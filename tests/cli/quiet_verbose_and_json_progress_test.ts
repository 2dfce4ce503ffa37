/**
 * Output conventions: -q leaves results and errors only, --progress=json
 * makes stderr NDJSON events (steps with integer milliseconds, notes,
 * errors) for wrappers and GUIs, and a job's text shown off a terminal has
 * its control characters replaced.
 */
import assert from "node:assert/strict";
import { ROOT, runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("-q: the result only; -q with -v is a usage error", async () => {
  await using dir = await tempDir();
  const env = { XDG_CONFIG_HOME: dir.path };
  const loud = await runCli(["site", "init", "a"], { env });
  assert.match(loud.stderr, /next: edit it/);
  const quiet = await runCli(["-q", "site", "init", "b"], { env });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, "");
  assert.match(quiet.stdout, /wrote .*b\.yaml/);
  assert.equal((await runCli(["-q", "-v", "site", "list"], { env })).code, 2);
});

Deno.test("--progress=json: notes and errors are NDJSON events on stderr", async () => {
  await using dir = await tempDir();
  const env = { XDG_CONFIG_HOME: dir.path };
  const ok = await runCli(["--progress", "json", "site", "init", "a"], { env });
  assert.deepEqual(JSON.parse(ok.stderr.trim()), {
    event: "note",
    message: "next: edit it, then run: sealbatch site check a",
  });
  const bad = await runCli(["--progress", "json", "run", `${dir.path}/no.yaml`, "--site", "a"], {
    env,
  });
  assert.equal(bad.code, 3);
  const e = JSON.parse(bad.stderr.trim());
  assert.equal(e.event, "error");
  assert.equal(e.kind, "input");
  assert.equal(e.exitCode, 3);
  assert.match(e.message, /no\.yaml/);
});

Deno.test("the run reporter under --progress=json, and a job's stderr off a terminal", async () => {
  await using dir = await tempDir();
  const script = `${dir.path}/report.ts`;
  await Deno.writeTextFile(
    script,
    `import { forDisplay, setOutputModes } from ${JSON.stringify(`${ROOT}/src/cli/output.ts`)};
import { jobReporter } from ${JSON.stringify(`${ROOT}/src/cli/run.ts`)};
setOutputModes({ verbosity: "normal", progress: "json" });
const report = jobReporter();
report({ job: "j-1", step: "upload", phase: "start" });
report({ job: "j-1", step: "upload", phase: "done", ms: 12 });
setOutputModes({ verbosity: "normal", progress: "text" });
console.log(JSON.stringify(forDisplay("red \\x1b[31mtext\\x1b[0m\\tand\\nlines\\r")));
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", "--config", `${ROOT}/deno.json`, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const events = new TextDecoder().decode(out.stderr).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events, [
    { event: "step", job: "j-1", step: "upload", phase: "start" },
    { event: "step", job: "j-1", step: "upload", phase: "done", ms: 12 },
  ]);
  assert.equal(
    JSON.parse(new TextDecoder().decode(out.stdout)),
    "red ?[31mtext?[0m\tand\nlines?",
  );
});

Deno.test("--progress=json: data seal reports its phases as events", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/in`);
  await Deno.writeTextFile(`${dir.path}/in/a.txt`, "data\n");
  const r = await runCli([
    "--progress",
    "json",
    "data",
    "seal",
    `${dir.path}/in`,
    "--out",
    `${dir.path}/in.img`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(events.length > 0);
  assert.ok(events.every((e) => ["phase", "note", "warning"].includes(e.event)), r.stderr);
  assert.ok(events.some((e) => e.event === "phase" && typeof e.phase === "string"), r.stderr);
});
