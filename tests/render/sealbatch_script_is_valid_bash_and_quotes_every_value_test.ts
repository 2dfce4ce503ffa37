import assert from "node:assert/strict";
import { CREDENTIALS_DELIMITER, renderSealbatchScript } from "../../src/render/sealbatch.ts";
import type { RenderInput } from "../../src/render/sealbatch.ts";
import type { Credentials } from "../../src/kms/credentials.ts";
import { exec } from "../../src/util/exec.ts";
import { SealbatchError } from "../../src/util/errors.ts";

const TOKENS = ["hvs.LUKSsecretTOKEN0000000001", "hvs.IMAGEsecretTOKEN000000002"];

const credentials: Credentials = {
  v: 1,
  kind: "sealbatch-credentials",
  mode: "job-scoped",
  job: "bart-1a2b3c4d",
  user: "alice",
  vault_addr: "https://vault.example.org:8200",
  expires_at: "2030-01-01T00:00:00Z",
  keys: [
    { name: "luks", path: "secret/data/sealbatch/alice/bart-1a2b3c4d/luks", token: TOKENS[0]! },
    { name: "image", path: "secret/data/sealbatch/alice/bart-1a2b3c4d/image", token: TOKENS[1]! },
  ],
};

const base: RenderInput = {
  // A node command with a space and a quote: it must stay one word each.
  nodeCommand: ["/opt/seal batch/bin/sealbatch", "--it's"],
  credentials,
  command: "sh -c 'cat {input}/a.txt > {output}/b.txt' && echo \"{output}\" $HOME",
  input: "input.img",
  output: "output.img",
  results: "output.results.img",
};

/** The script without the credentials here-doc's body. */
function outsideHeredoc(script: string): string {
  const lines = script.split("\n");
  const start = lines.findIndex((l) => l.endsWith(`<<'${CREDENTIALS_DELIMITER}'`));
  const end = lines.indexOf(CREDENTIALS_DELIMITER, start + 1);
  assert.ok(start >= 0 && end === start + 2, "one-line quoted here-doc for the credentials");
  assert.deepEqual(JSON.parse(lines[start + 1]!), credentials);
  return [...lines.slice(0, start + 1), ...lines.slice(end)].join("\n");
}

for (
  const [label, input] of [["without image", base], ["with image", {
    ...base,
    image: { file: "image.sif" as const },
  }]] as const
) {
  Deno.test(`the sealbatch script (${label}) is valid bash, tokens only inside the quoted here-doc`, async () => {
    const script = renderSealbatchScript(input);
    await exec("bash", ["-n"], { stdin: script, what: "bash -n" });
    const rest = outsideHeredoc(script);
    for (const t of TOKENS) assert.ok(!rest.includes(t), "a token outside the here-doc");
    assert.match(rest, /^sb\(\) \{ '\/opt\/seal batch\/bin\/sealbatch' '--it'\\''s' "\$@"; \}$/m);
    // Placeholders become quoted expansions; the command itself is one quoted word.
    assert.ok(!rest.includes("{input}") && !rest.includes("{output}"));
    assert.match(rest, /job\.stdout/);
    assert.match(rest, /--seal-to "\$JOB_DIR"\/'output\.results\.img'/);
    // Only fixed progress lines are printed by the script itself.
    const said = [...rest.matchAll(/(?:say|fail) "([^"]*)"/g)].map((m) => m[1])
      .filter((m) => m !== "$1");
    assert.ok(said.length >= 8);
    for (const line of said) assert.match(line!, /^[a-z ]+(\$status)?$/);
    if (input.image) {
      assert.match(rest, /sb node run-image --pem-file "\$KEYS"\/'image' --bind "\$IN:\/input:ro"/);
    } else {
      assert.ok(!rest.includes("run-image"));
    }
  });
}

Deno.test("the output side is created on the node, with output_size passed on as --size", () => {
  const open = (script: string) =>
    script.split("\n").filter((l) => l.startsWith("sb node data open 'output.img'"));
  const plain = open(renderSealbatchScript(base));
  assert.equal(plain.length, 1);
  assert.match(plain[0]!, /^sb node data open 'output\.img' --create --key-file /);
  const sized = open(renderSealbatchScript({ ...base, outputSize: 512 * 1024 * 1024 }));
  assert.match(sized[0]!, /^sb node data open 'output\.img' --create --size 512 --key-file /);
});

Deno.test("placeholders expand to the mount points even inside sh -c '...' and double quotes", async () => {
  const script = renderSealbatchScript(base);
  // Run just the command line of the script with stand-in paths that contain spaces.
  const line = script.split("\n").find((l) => l.startsWith("(cd "))!;
  const command = line.slice(line.indexOf("bash -c ") + 8, line.indexOf(") >"));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/in put`);
    await Deno.mkdir(`${dir}/out put`);
    await Deno.writeTextFile(`${dir}/in put/a.txt`, "data\n");
    const out = await exec("bash", ["-c", `bash -c ${command}`], {
      env: { SEALBATCH_INPUT: `${dir}/in put`, SEALBATCH_OUTPUT: `${dir}/out put` },
      what: "the command",
    });
    assert.equal(await Deno.readTextFile(`${dir}/out put/b.txt`), "data\n");
    assert.match(out.text, new RegExp(`^${dir}/out put /`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rendering refuses an empty node command, a missing key or {image} without image", () => {
  const refused = (input: RenderInput, why: RegExp) =>
    assert.throws(
      () => renderSealbatchScript(input),
      (e: unknown) => e instanceof SealbatchError && why.test(e.message),
    );
  refused({ ...base, nodeCommand: [] }, /node command is empty/);
  refused({ ...base, command: "run {image}" }, /uses \{image\} but there is no image/);
  refused(
    {
      ...base,
      image: { file: "image.sif" },
      credentials: { ...credentials, keys: [credentials.keys[0]!] },
    },
    /no key "image"/,
  );
});
