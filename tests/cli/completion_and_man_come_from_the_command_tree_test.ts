/**
 * Shell completions and the man page are generated from the command tree, so
 * every command is in them. The bash script is run by real bash as its
 * completion machinery calls it; the man page is checked by groff.
 */
import assert from "node:assert/strict";
import { buildProgram } from "../../src/cli/program.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { runCli, tempDir } from "../_helpers/cli.ts";

Deno.test("bash completion completes commands, subcommands and options, as bash calls it", async () => {
  const r = await runCli(["completion", "bash"]);
  assert.equal(r.code, 0, r.stderr);
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/sealbatch.bash`, r.stdout);
  const complete = async (...words: string[]) => {
    const out = await exec("bash", [
      "-c",
      `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sealbatch; ` +
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
      "bash",
      `${dir.path}/sealbatch.bash`,
      ...words,
    ]);
    return out.text.trim().split("\n");
  };
  assert.deepEqual(await complete("sealbatch", "jo"), ["job"]);
  assert.ok((await complete("sealbatch", "job", "")).includes("clean"));
  assert.deepEqual(await complete("sealbatch", "job", "list", "--proj"), ["--project"]);
  assert.deepEqual(await complete("sealbatch", "run", "job.yaml", "--sit"), ["--site"]);
  assert.deepEqual(await complete("sealbatch", "--json", "node", "data", "o"), ["open"]);
});

Deno.test("zsh and fish completions name every command; an unknown shell is a usage error", async () => {
  const zsh = await runCli(["completion", "zsh"]);
  assert.match(zsh.stdout, /^#compdef sealbatch/);
  assert.match(zsh.stdout, /bashcompinit/);
  const fish = await runCli(["completion", "fish"]);
  assert.match(fish.stdout, /^complete -c sealbatch -f -n '__fish_use_subcommand' -a run /m);
  assert.match(fish.stdout, /__fish_seen_subcommand_from job.* -a clean /);
  assert.match(fish.stdout, /-l project /);
  const bad = await runCli(["completion", "tcsh"]);
  assert.equal(bad.code, 2);
});

Deno.test({
  name: "the man page has a section per command and groff reads it without a warning",
  async fn() {
    const r = await runCli(["man"]);
    assert.equal(r.code, 0, r.stderr);
    const paths: string[] = [];
    const walk = (cmd: ReturnType<typeof buildProgram>, path: string) => {
      if (path) paths.push(path);
      for (const sub of cmd.commands) {
        walk(sub as ReturnType<typeof buildProgram>, path ? `${path} ${sub.name()}` : sub.name());
      }
    };
    walk(buildProgram(), "");
    for (const p of paths) {
      assert.ok(r.stdout.includes(`.SS sealbatch ${p.replaceAll("-", "\\-")}\n`), p);
    }
    if (await hasProgram("groff")) {
      await using dir = await tempDir();
      await Deno.writeTextFile(`${dir.path}/sealbatch.1`, r.stdout);
      const g = await exec("groff", ["-man", "-Tutf8", "-ww", "-z", `${dir.path}/sealbatch.1`]);
      assert.equal(g.stderr.trim(), "");
    }
  },
});
