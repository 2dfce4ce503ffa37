/**
 * The README's order, `bash scripts/demo.sh` then `bash scripts/test.sh`, in one checkout: what the
 * demo writes there by default (./sealbatch-demo/, with JSON receipts deno fmt would reformat) is
 * ignored by fmt, lint, check and git, so the test command's first check does not trip over it.
 */
import assert from "node:assert/strict";
import { ROOT } from "../_helpers/cli.ts";

const DENO = Deno.execPath();

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

Deno.test("the demo's default directory in the checkout is ignored by fmt, lint, check and git", async () => {
  const dir = `${ROOT}/sealbatch-demo/probe-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    // As the demo writes them: compact JSON, and a script that lint and check would reject.
    await Deno.writeTextFile(`${dir}/receipt.json`, '{"job":"x","results":{"sha256":"00"}}');
    await Deno.writeTextFile(`${dir}/bad.ts`, "var x: number = 'not a number'\n");
    const fmt = await run(DENO, ["fmt", "--check", "sealbatch-demo/"]);
    assert.doesNotMatch(fmt.text, /receipt\.json|bad\.ts/, fmt.text);
    const lint = await run(DENO, ["lint", "sealbatch-demo/"]);
    assert.doesNotMatch(lint.text, /bad\.ts/, lint.text);
    const git = await run("git", [
      "status",
      "--porcelain",
      "--untracked-files=all",
      "sealbatch-demo/",
    ]);
    assert.ok(git.ok, git.text);
    assert.equal(git.text.trim(), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${ROOT}/sealbatch-demo`).catch(() => {}); // only when empty: a real demo stays
  }
});
