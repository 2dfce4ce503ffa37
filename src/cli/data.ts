/** `sealbatch data ...`: LUKS2 data containers on the client, without root. */
import { Command, Option } from "@commander-js/extra-typings";
import { exists } from "../util/files.ts";
import { usageError } from "../util/errors.ts";
import { DEFAULT_HEADROOM, parseHeadroom, parseSize } from "../luks/size.ts";
import { event, jsonMode, note, progressJson, result, warn } from "./output.ts";

/** Phase lines on a terminal only (pipes and --json stay quiet); events with --progress=json. */
export function phaseReporter(): (phase: string) => void {
  if (progressJson()) return (phase) => event("phase", { phase });
  const show = Deno.stderr.isTerminal() && !jsonMode();
  return (phase) => {
    if (show) note(`sealbatch: ${phase}...`);
  };
}

const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;

function sealCommand() {
  return new Command("seal")
    .description(
      "put DIR into a new LUKS2 container (ext4 inside) without root; any site's\n" +
        "`cryptsetup open --key-file` + `mount` opens it",
    )
    .argument("<dir>", "directory to seal")
    .requiredOption("--out <file>", "container to create (never overwritten)")
    .option(
      "--key <file>",
      "key file: used when it exists, created (64 random bytes, mode 0600) when not;\n" +
        "default: a new key next to --out (NAME.key)",
    )
    .option("--size <auto|MiB>", "file system size inside the container", "auto")
    .option(
      "--headroom <MiB|PCT%>",
      `free space for job outputs with --size auto (default ${DEFAULT_HEADROOM})`,
    )
    .option(
      "--work-dir <dir>",
      "private work directory root (default $XDG_RUNTIME_DIR, else next to --out)",
    )
    .addHelpText(
      "after",
      `
Examples:
  sealbatch data seal ./input --out input.img            # creates input.img and input.key
  sealbatch data seal ./input --out input.img --key project.key --headroom 25%
  sealbatch data seal ./input --out input.img --size 2048

The plaintext file system is built in private memory-backed storage (or, when
that is too small, in a 0700 directory next to --out) and removed on success,
failure and Ctrl-C. Special files (devices, fifos, sockets) are refused.`,
    )
    .action(async (dir, opts) => {
      const size = parseSize(opts.size);
      if (opts.headroom !== undefined && size !== "auto") {
        throw usageError("--headroom applies only to --size auto");
      }
      const headroom = opts.headroom === undefined ? undefined : parseHeadroom(opts.headroom);
      const keyPath = opts.key ?? opts.out.replace(/\.img$/, "") + ".key";
      const create = opts.key === undefined || !(await exists(opts.key));
      const { sealDirectory } = await import("../luks/seal.ts");
      const res = await sealDirectory({
        source: dir,
        out: opts.out,
        key: { path: keyPath, create },
        size,
        ...(headroom ? { headroom } : {}),
        revealNames: true,
        ...(opts.workDir ? { workBase: opts.workDir } : {}),
        onPhase: phaseReporter(),
      });
      if (res.workedNearOutput) {
        warn(
          "no memory-backed storage with room: the plaintext was staged (and removed) next to --out",
        );
      }
      result(
        `sealed ${dir} into ${res.out} (${mib(res.containerBytes)}, file system ${
          mib(res.fsBytes)
        })\nkey: ${res.keyPath}${res.keyCreated ? " (new; keep it off the shared system)" : ""}`,
        res,
      );
    });
}

function openCommand() {
  return new Command("open")
    .description("extract a LUKS2 container into DIR without root (works on any LUKS2 + ext4)")
    .argument("<container>", "container file")
    .requiredOption("--key <file>", "key file (mode 0600)")
    .requiredOption("--out <dir>", "directory to create (or an empty one)")
    .option("--force", "merge into a non-empty --out, replacing files")
    .option(
      "--work-dir <dir>",
      "private work directory root (default $XDG_RUNTIME_DIR, else next to --out)",
    )
    .addHelpText(
      "after",
      `
Examples:
  sealbatch data open input.img --key input.key --out ./input
  sealbatch data open results.img --key input.key --out ./results --force

Modes are restored, symlinks stay links, special files are refused, and
nothing appears in --out unless the whole container was extracted and checked.`,
    )
    .action(async (container, opts) => {
      const { openContainer } = await import("../luks/open.ts");
      const res = await openContainer({
        image: container,
        keyPath: opts.key,
        out: opts.out,
        force: Boolean(opts.force),
        revealNames: true,
        ...(opts.workDir ? { workBase: opts.workDir } : {}),
        onPhase: phaseReporter(),
      });
      if (res.workedNearOutput) {
        warn(
          "no memory-backed storage with room: the decrypted image was staged (and removed) next to --out",
        );
      }
      result(
        `opened ${container} into ${res.out}: ${res.files} files, ${res.directories} directories, ${res.symlinks} symlinks, ${res.bytes} bytes`,
        res,
      );
    });
}

function inspectCommand() {
  return new Command("inspect")
    .description("show LUKS2 header facts (no key needed); with --key, whether the key opens it")
    .argument("<container>", "container file")
    .addOption(new Option("--key <file>", "key file to test"))
    .addHelpText(
      "after",
      `
Examples:
  sealbatch data inspect input.img
  sealbatch data inspect input.img --key input.key
  sealbatch --json data inspect input.img`,
    )
    .action(async (container, opts) => {
      const { inspectContainer } = await import("../luks/inspect.ts");
      const r = await inspectContainer(container, opts.key);
      const slots = r.keyslots.map((k) =>
        `${k.id} (${k.type}, ${k.kdf}, ${k.keySize * 8}-bit key)`
      );
      const lines = [
        `container:   ${r.path}`,
        `format:      LUKS${r.version}, UUID ${r.uuid}${r.label ? `, label ${r.label}` : ""}`,
        `cipher:      ${r.cipher}, sector size ${r.sectorSize}`,
        `data:        offset ${r.dataOffset}, size ${r.dataSize} bytes (file ${r.fileSize} bytes)`,
        `key slots:   ${slots.join(", ") || "none"}`,
      ];
      if (r.headerCopy === "secondary") {
        lines.push(
          `warning:     primary header damaged (${r.primaryProblem}); secondary copy used`,
        );
      }
      if (r.keyOpens !== undefined) {
        lines.push(
          `key:         ${
            r.keyOpens
              ? "opens the container"
              : r.keySlotDamaged
              ? "right key, but the key slot area is damaged"
              : "does NOT open the container"
          }`,
        );
      }
      result(lines.join("\n"), r);
      if (r.keyOpens === false) {
        const { wrongKey } = await import("../luks/cryptsetup.ts");
        wrongKey(container, r.keySlotDamaged);
      }
    });
}

export function dataCommand() {
  return new Command("data")
    .description("seal, open and inspect LUKS2 data containers (no root needed)")
    .addHelpText(
      "after",
      `
Examples:
  sealbatch data seal ./input --out input.img
  sealbatch data inspect input.img --key input.key
  sealbatch data open input.results.img --key input.key --out ./results`,
    )
    .addCommand(sealCommand())
    .addCommand(openCommand())
    .addCommand(inspectCommand());
}
