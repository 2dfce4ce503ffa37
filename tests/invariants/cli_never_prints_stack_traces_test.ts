/**
 * Invariant: hostile input to any command ends in one `sealbatch: error:`
 * line (plus an optional hint), the exit code the table in README.md gives
 * for it, no control bytes from file names on the terminal, and no hang: a
 * table of garbage files, an 8 GiB sparse file, directories, FIFOs, dangling
 * symlinks, names with escape sequences and newlines, and invalid names, fed
 * to every command that reads a file or takes a name.
 */
import assert from "node:assert/strict";
import { assertOneLineError, tempDir } from "../_helpers/cli.ts";
import { writeKeyPair } from "../../src/pgp/keygen.ts";
import { runCliTimed } from "./_helpers.ts";

type Kind = "garbage" | "huge" | "dir" | "fifo" | "ctrl" | "dangling" | "missing";
const KINDS: Kind[] = ["garbage", "huge", "dir", "fifo", "ctrl", "dangling", "missing"];

interface Case {
  what: string;
  args: (x: string) => string[];
  /** Expected exit code per input kind; kinds left out are not hostile to this argument. */
  codes: Partial<Record<Kind, number>>;
  stdin?: string | Uint8Array;
}

const all = (code: number, except: Partial<Record<Kind, number | undefined>> = {}) => {
  const out: Partial<Record<Kind, number>> = {};
  for (const k of KINDS) {
    const v = k in except ? except[k] : code;
    if (v !== undefined) out[k] = v;
  }
  return out;
};

/** Control bytes other than the newline that ends a line. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

function assertClean(
  what: string,
  r: { code: number; stderr: string; timedOut: boolean },
  code: number,
) {
  assert.ok(!r.timedOut, `${what}: hung`);
  assert.equal(r.code, code, `${what}: exit ${r.code}, expected ${code}: ${r.stderr}`);
  try {
    assertOneLineError(r.stderr);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  assert.ok(
    !CONTROL.test(r.stderr),
    `${what}: control bytes on stderr: ${JSON.stringify(r.stderr)}`,
  );
}

/** Run cases two at a time (the machine is shared). */
async function runAll(jobs: (() => Promise<void>)[]): Promise<void> {
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  };
  await Promise.all([worker(), worker()]);
}

Deno.test("hostile files and names: one error line, the documented exit code, no hang", async () => {
  await using dir = await tempDir();
  const d = dir.path;
  const inputs: Record<Kind, string> = {
    garbage: `${d}/garbage`,
    huge: `${d}/huge`,
    dir: `${d}/adir`,
    fifo: `${d}/fifo`,
    ctrl: `${d}/na\x1b[31mme\nü`,
    dangling: `${d}/dangling`,
    missing: `${d}/missing\u202e`,
  };
  await Deno.writeFile(inputs.garbage, crypto.getRandomValues(new Uint8Array(4096)), {
    mode: 0o600,
  });
  const huge = await Deno.open(inputs.huge, { create: true, write: true, mode: 0o600 });
  await huge.truncate(8 * 1024 ** 3); // sparse: costs no disk
  huge.close();
  await Deno.mkdir(inputs.dir);
  const mkfifo = await new Deno.Command("mkfifo", { args: ["-m", "600", inputs.fifo] }).output();
  assert.ok(mkfifo.success, "mkfifo failed");
  await Deno.writeTextFile(inputs.ctrl, "x", { mode: 0o600 });
  await Deno.symlink(`${d}/nowhere`, inputs.dangling);
  const user = await writeKeyPair({
    kind: "user",
    name: "u",
    email: "u@example.org",
    outDir: `${d}/keys`,
  });
  const node = await writeKeyPair({
    kind: "node",
    name: "n",
    email: "n@example.org",
    outDir: `${d}/keys`,
  });
  await Deno.writeTextFile(`${d}/cmd.sh`, "#!/bin/bash\ntrue\n");
  let n = 0;
  const fresh = () => `${d}/out-${n++}`;

  const cases: Case[] = [
    {
      what: "keygen --passphrase-file",
      args: (
        x,
      ) => [
        "keygen",
        "--kind",
        "user",
        "--name",
        "a",
        "--email",
        "a@example.org",
        "--out",
        fresh(),
        "--passphrase-file",
        x,
      ],
      codes: all(3, { garbage: undefined, ctrl: undefined }),
    },
    {
      what: "job seal --command",
      args: (
        x,
      ) => [
        "job",
        "seal",
        "--command",
        x,
        "--node-key",
        node.publicKey,
        "--sign-key",
        user.secretKey,
        "--out",
        fresh(),
      ],
      // Any regular file is a command script to seal (bash judges it on the node).
      codes: all(3, { garbage: undefined, ctrl: undefined }),
    },
    {
      what: "job seal --node-key",
      args: (
        x,
      ) => [
        "job",
        "seal",
        "--command",
        `${d}/cmd.sh`,
        "--node-key",
        x,
        "--sign-key",
        user.secretKey,
        "--out",
        fresh(),
      ],
      codes: all(3),
    },
    {
      what: "job seal --sign-key",
      args: (
        x,
      ) => [
        "job",
        "seal",
        "--command",
        `${d}/cmd.sh`,
        "--node-key",
        node.publicKey,
        "--sign-key",
        x,
        "--out",
        fresh(),
      ],
      codes: all(3),
    },
    {
      // Hashing a large input is legitimate (data containers are large): "huge" is not hostile here.
      what: "job seal --input",
      args: (
        x,
      ) => [
        "job",
        "seal",
        "--command",
        `${d}/cmd.sh`,
        "--node-key",
        node.publicKey,
        "--sign-key",
        user.secretKey,
        "--input",
        x,
        "--out",
        fresh(),
      ],
      codes: all(3, { garbage: undefined, huge: undefined }),
    },
    {
      what: "node decrypt-and-execute --script",
      args: (
        x,
      ) => [
        "node",
        "decrypt-and-execute",
        "--script",
        x,
        "--signers",
        `${d}/keys`,
        "--node-key",
        node.secretKey,
        "--state",
        `${d}/state`,
      ],
      codes: all(4),
      stdin: "",
    },
    {
      what: "node decrypt-and-execute --config",
      args: (x) => ["node", "decrypt-and-execute", "--config", x, "--script", inputs.garbage],
      codes: all(3),
      stdin: "",
    },
    {
      what: "node fetch-keys --credentials",
      args: (x) => ["node", "fetch-keys", "--credentials", x],
      codes: all(3),
    },
    {
      what: "node wipe-keys",
      args: (x) => ["node", "wipe-keys", x],
      codes: all(4, { missing: 0 }),
    },
    { what: "image inspect", args: (x) => ["image", "inspect", x], codes: all(3) },
    {
      what: "image inspect --key",
      args: (x) => ["image", "inspect", inputs.garbage, "--key", x],
      codes: all(3),
    },
    {
      what: "image build --pem",
      args: (x) => ["image", "build", `${d}/cmd.sh`, "--pem", x, "--out", `${fresh()}.sif`],
      codes: all(3),
    },
    {
      what: "keys status --state",
      args: (x) => ["keys", "status", "--job", "j1", "--state", x],
      codes: all(3),
    },
    {
      what: "kms health --ca-cert",
      args: (x) => ["kms", "health", "--ca-cert", x, "--vault-addr", "https://127.0.0.1:1"],
      codes: all(3),
    },
    { what: "site check", args: (x) => ["site", "check", x], codes: all(3) },
    { what: "view", args: (x) => ["view", x, "--out", `${fresh()}.png`], codes: all(3) },
  ];

  const jobs: (() => Promise<void>)[] = [];
  for (const c of cases) {
    for (const [kind, code] of Object.entries(c.codes) as [Kind, number][]) {
      jobs.push(async () => {
        const r = await runCliTimed({
          args: c.args(inputs[kind]),
          env: { SUDO_UID: "", SUDO_USER: "" },
          timeoutMs: 30_000,
          ...(c.stdin !== undefined ? { stdin: c.stdin } : {}),
        });
        if (code === 0) assert.equal(r.code, 0, `${c.what} ${kind}: ${r.stderr}`);
        else assertClean(`${c.what} ${kind}`, r, code);
      });
    }
  }

  // Names and values that become file names, Vault paths or account names.
  const vaultEnv = {
    VAULT_ADDR: "https://127.0.0.1:1",
    VAULT_TOKEN: "hvs.dummy",
    SUDO_UID: "",
    SUDO_USER: "",
  };
  const named: {
    what: string;
    args: string[];
    code: number;
    env?: Record<string, string>;
    stdin?: string | Uint8Array;
  }[] = [
    {
      what: "keygen --name with an escape",
      args: [
        "keygen",
        "--kind",
        "user",
        "--name",
        "a\x1b[2Jb",
        "--email",
        "a@example.org",
        "--out",
        fresh(),
      ],
      code: 3,
    },
    {
      what: "keygen --name ../x",
      args: [
        "keygen",
        "--kind",
        "user",
        "--name",
        "../x",
        "--email",
        "a@example.org",
        "--out",
        fresh(),
      ],
      code: 3,
    },
    {
      what: "keys escrow --job ../../etc",
      args: [
        "keys",
        "escrow",
        "--job",
        "../../etc",
        "--key",
        `luks=${inputs.garbage}`,
        "--out",
        `${fresh()}.json`,
      ],
      code: 3,
      env: vaultEnv,
    },
    {
      what: "keys status --job with a newline",
      args: ["keys", "status", "--job", "a\nb"],
      code: 3,
    },
    { what: "site init ../x", args: ["site", "init", "../x"], code: 2 },
    {
      what: "job seal --user with a newline",
      args: [
        "job",
        "seal",
        "--command",
        `${d}/cmd.sh`,
        "--node-key",
        node.publicKey,
        "--sign-key",
        user.secretKey,
        "--user",
        "root\nx",
        "--out",
        fresh(),
      ],
      code: 3,
    },
    {
      what: "job seal --job-id ../x",
      args: [
        "job",
        "seal",
        "--command",
        `${d}/cmd.sh`,
        "--node-key",
        node.publicKey,
        "--sign-key",
        user.secretKey,
        "--job-id",
        "../x",
        "--out",
        fresh(),
      ],
      code: 3,
    },
    {
      what: "decrypt-and-execute --user ../../etc",
      args: ["node", "decrypt-and-execute", "--script", inputs.garbage, "--user", "../../etc"],
      code: 4,
      stdin: "",
    },
    {
      what: "decrypt-and-execute with 5 MiB on stdin",
      args: ["node", "decrypt-and-execute", "--script", inputs.garbage],
      code: 4,
      stdin: new Uint8Array(5 * 1024 * 1024).fill(0x41),
    },
    { what: "an unknown option with an escape", args: ["keygen", "--na\x1b[2Jme"], code: 2 },
  ];
  for (const { what, args, code, env, stdin } of named) {
    jobs.push(async () => {
      const r = await runCliTimed({
        args,
        env: env ?? { SUDO_UID: "", SUDO_USER: "" },
        timeoutMs: 30_000,
        ...(stdin !== undefined ? { stdin } : {}),
      });
      assertClean(what, r, code);
    });
  }
  await runAll(jobs);
});
