/**
 * The command script for a node that runs sealbatch (the sealbatch flavour).
 * It becomes the payload of run.sh (sealJob adds the manifest line) and runs
 * as the job user, from the job directory, with $SEALBATCH_WORK_DIR a 0700
 * private directory on node-local memory:
 *
 *   credentials (quoted here-doc) -> 0600 file -> node fetch-keys -> keys
 *   node data open input.img (the node's verified copy, $SEALBATCH_INPUTS),
 *     and output.img --create (the node makes the output side itself:
 *     nothing for it travels from the client)
 *   the command, stdout/stderr/status into job.stdout/job.stderr/job.status
 *     inside the output container
 *   node data close output (-> output.results.img), input (--discard)
 *   node wipe-keys; exit with the command's status
 *
 * Only fixed progress lines ("sealbatch: ...") reach the Slurm log: it lies on
 * the shared file system. The script's own stderr (bash's messages, which
 * quote command lines, e.g. when the command dies by a signal) goes into
 * job.stderr inside the output container from the moment that is open; the
 * progress lines travel on fd 3, which the command does not get. The node
 * side filters what is left (see PROGRESS_LINE). Every value the script
 * carries is single-quoted; the credentials sit in a here-doc with a quoted
 * delimiter (no expansion).
 *
 * A job of several nodes runs this script on every node (node I's part, see
 * src/node/across_nodes.ts): it fetches node I's own credentials, opens the
 * data, says "node ready" and waits for the command's exit status on stdin;
 * the command itself runs as a Slurm step over all nodes, each task running
 * this same script with SEALBATCH_NODE_TASK=1, which takes the command
 * branch only. Node 0 seals its results; the others seal theirs too when
 * every node's results are kept, and discard them otherwise.
 */
import { inputError } from "../util/errors.ts";
import { sh } from "../remote/quote.ts";
import { resultsOfNode } from "../job/manifest.ts";
import type { Credentials } from "../kms/credentials.ts";

export interface RenderInput {
  /** argv words that run sealbatch on the node, e.g. ["sealbatch"]. */
  nodeCommand: string[];
  /** Embedded in the script in a quoted here-doc. */
  credentials: Credentials;
  /** The job spec's command with {input} {output} {image} placeholders. */
  command: string;
  /** Present when the job runs in an encrypted image. */
  image?: { file: "image.sif"; binds?: never };
  input: "input.img";
  output: "output.img";
  results: "output.results.img";
  /** File system size of the output container in bytes (binds only a privileged node). */
  outputSize?: number;
  /** A job of several nodes: whether every node's results are kept (or only node 0's). */
  nodes?: { count: number; keepAll: boolean };
}

export const CREDENTIALS_DELIMITER = "SEALBATCH_CREDENTIALS";

/** Key names in the credentials the script expects (escrowed by `sealbatch run`). */
export const LUKS_KEY = "luks";
export const IMAGE_KEY = "image";

/** Where the command sees its data inside the image. */
const IMAGE_INPUT = "/input";
const IMAGE_OUTPUT = "/output";
const MiB = 1024 * 1024;

/** What the script says (`say`, `fail`): fixed texts, the only lines it writes to the Slurm log. */
const PROGRESS = [
  "keys fetched",
  "keys wiped",
  "data opened",
  "job started",
  "job ended with status \\d{1,3}",
  "results sealed",
  "node ready",
  "(fetching the keys|opening the input|opening the output|sealing the results|closing the input) failed",
  "stopped: another node failed",
];

/**
 * A line the node side lets through from a sealed-results job's script to the
 * Slurm log: a progress line of the script, or the one-line error of a
 * sealbatch node command, which never carries data or file names of the
 * decrypted side (its `hint:` line passes right after it: HINT_LINE).
 * Everything else is withheld.
 */
export const PROGRESS_LINE = new RegExp(
  `^sealbatch: (${PROGRESS.join("|")}|error: [^\\n]*)$`,
);
export const HINT_LINE = /^hint: [^\n]*$/;

/**
 * {input} {output} {image} become quoted expansions of exported variables, so
 * they stay one word in every context: plain, inside double quotes, and
 * inside a single-quoted `sh -c '...'` (the inner shell expands them).
 */
export function substitutePlaceholders(command: string): string {
  return command
    .replaceAll("{input}", '"$SEALBATCH_INPUT"')
    .replaceAll("{output}", '"$SEALBATCH_OUTPUT"')
    .replaceAll("{image}", '"$SEALBATCH_IMAGE"');
}

function checkInput(input: RenderInput): void {
  if (input.nodeCommand.length === 0 || input.nodeCommand.some((w) => w === "")) {
    throw inputError("cannot render the job script: the node command is empty");
  }
  if (input.command.trim() === "") throw inputError("cannot render the job script: no command");
  if (input.command.includes("{image}") && input.image === undefined) {
    throw inputError(
      "cannot render the job script: the command uses {image} but there is no image",
    );
  }
  const needed = input.image === undefined ? [LUKS_KEY] : [LUKS_KEY, IMAGE_KEY];
  for (const name of needed) {
    if (!input.credentials.keys.some((k) => k.name === name)) {
      throw inputError(`cannot render the job script: the credentials hold no key "${name}"`);
    }
  }
}

export function renderSealbatchScript(input: RenderInput): string {
  checkInput(input);
  const creds = JSON.stringify(input.credentials);
  // One line of JSON can never be the delimiter line; checked all the same.
  if (creds.includes("\n") || creds === CREDENTIALS_DELIMITER) {
    throw inputError("cannot render the job script: the credentials are not one line");
  }
  const command = sh(substitutePlaceholders(input.command));
  const nodes = input.nodes;
  // The tasks of several nodes' command step share their node's output files.
  const stdout = nodes ? ">>" : ">";
  const run = input.image === undefined
    ? [
      `export SEALBATCH_INPUT="$IN" SEALBATCH_OUTPUT="$OUT"`,
      `(cd "$OUT" && exec bash -c ${command}) ${stdout}"$OUT/job.stdout" 2>>"$OUT/job.stderr" </dev/null 3>&-`,
    ]
    : [
      `export SEALBATCH_INPUT=${sh(IMAGE_INPUT)} SEALBATCH_OUTPUT=${sh(IMAGE_OUTPUT)} ` +
      `SEALBATCH_IMAGE="$INPUTS"/${sh(input.image.file)}`,
      `eval "set -- "${command}`,
      `sb node run-image --pem-file "$KEYS"/${sh(IMAGE_KEY)} ` +
      `--bind "$IN:${IMAGE_INPUT}:ro" --bind "$OUT:${IMAGE_OUTPUT}" ` +
      `"$SEALBATCH_IMAGE" -- "$@" ${stdout}"$OUT/job.stdout" 2>>"$OUT/job.stderr" </dev/null 3>&-`,
    ];
  // Node I's results container: the name resultsOfNode gives, with I from the environment.
  const [stem, ext] = resultsOfNode(input.results, 1).split(".node-1");
  const sealTo = (target: string) =>
    `sb node data close --mount-point "$OUT" ${target} >/dev/null || fail "sealing the results failed" $?`;
  const seal = !nodes ? [sealTo(`--seal-to "$JOB_DIR"/${sh(input.results)}`)] : [
    'if [ "$NODE" = 0 ]; then',
    `  ${sealTo(`--seal-to "$JOB_DIR"/${sh(input.results)}`)}`,
    "else",
    `  ${
      sealTo(
        nodes.keepAll
          ? `--seal-to "$JOB_DIR"/${sh(`${stem}.node-`)}"$NODE"${sh(ext!)}`
          : "--discard",
      )
    }`,
    "fi",
  ];
  const lines = [
    "#!/bin/bash",
    "# sealbatch job script: keys, data containers, the command, results.",
    "set -u",
    "umask 077",
    `sb() { ${input.nodeCommand.map(sh).join(" ")} "$@"; }`,
    'W=${SEALBATCH_WORK_DIR:?"sealbatch: not started by sealbatch node decrypt-and-execute"}',
    'export TMPDIR="$W"',
    "JOB_DIR=$PWD",
    // The node's verified copies of input.img and image.sif; the shared ones may have changed since.
    'INPUTS=${SEALBATCH_INPUTS:?"sealbatch: the node gave no verified inputs"}',
    'IN="$W/input" OUT="$W/output" KEYS="$W/keys"',
    ...(nodes
      ? [
        // A task of the command step, on a node whose part opened the data here.
        'if [ "${SEALBATCH_NODE_TASK:-}" = 1 ]; then',
        ...run.map((l) => `  ${l}`),
        "  exit",
        "fi",
        'NODE=${SEALBATCH_NODE_INDEX:?"sealbatch: no node index"}',
        // stdin is the node side's channel: read at the barrier only, by nothing else.
        "exec 4<&0 </dev/null",
      ]
      : []),
    "in_open=0 out_open=0",
    // fd 3: the progress channel to the node side; fd 2 moves into the results below.
    "exec 3>&2",
    "say() { printf 'sealbatch: %s\\n' \"$1\" >&3; }",
    // A node step's own exit status is the job's (5: a credential was already used, ...).
    'fail() { say "$1"; exit "${2:-1}"; }',
    "cleanup() {",
    // Back to the node's channel: a file open inside $OUT would keep it busy.
    "  exec 2>&3",
    '  if [ "$out_open" = 1 ]; then sb node data close --mount-point "$OUT" --discard >/dev/null; fi',
    '  if [ "$in_open" = 1 ]; then sb node data close --mount-point "$IN" --discard >/dev/null; fi',
    '  if [ -d "$KEYS" ]; then sb node wipe-keys "$KEYS" >/dev/null && say "keys wiped"; fi',
    '  rm -f "$W/credentials.json"',
    "}",
    "trap cleanup EXIT",
    "trap 'exit 143' TERM INT HUP",
    "",
    `cat >"$W/credentials.json" <<'${CREDENTIALS_DELIMITER}'`,
    creds,
    CREDENTIALS_DELIMITER,
    'sb node fetch-keys --credentials "$W/credentials.json" --out "$KEYS"' +
    (nodes ? ' --node-index "$NODE"' : "") + " >/dev/null ||",
    '  fail "fetching the keys failed" $?',
    'rm -f "$W/credentials.json"',
    'say "keys fetched"',
    `sb node data open "$INPUTS"/${sh(input.input)} --key-file "$KEYS"/${sh(LUKS_KEY)} ` +
    `--mount-point "$IN" >/dev/null || fail "opening the input failed" $?`,
    "in_open=1",
    `sb node data open ${sh(input.output)} --create ${
      input.outputSize === undefined ? "" : `--size ${Math.ceil(input.outputSize / MiB)} `
    }--key-file "$KEYS"/${sh(LUKS_KEY)} ` +
    `--mount-point "$OUT" >/dev/null || fail "opening the output failed" $?`,
    "out_open=1",
    'say "data opened"',
    // From here on, whatever bash or a program reports goes into the sealed results.
    'exec 2>>"$OUT/job.stderr"',
    "",
    ...(nodes
      ? [
        // The command runs as a step over every node; its exit status comes back on stdin.
        'say "node ready"',
        'IFS= read -r status <&4 || fail "stopped: another node failed"',
        'case $status in "" | *[!0-9]*) fail "stopped: another node failed" ;; esac',
      ]
      : ['say "job started"', ...run, "status=$?"]),
    'printf \'%s\\n\' "$status" >"$OUT/job.status"',
    'say "job ended with status $status"',
    "",
    "exec 2>&3",
    ...seal,
    "out_open=0",
    'say "results sealed"',
    'sb node data close --mount-point "$IN" --discard >/dev/null || fail "closing the input failed" $?',
    "in_open=0",
    'exit "$status"',
    "",
  ];
  return lines.join("\n");
}
