/** `sealbatch node run-image`: run an encrypted image inside the job, then remove its key. */
import { Command } from "@commander-js/extra-typings";
import { atStage } from "./node_stage.ts";

export function runImageCommand() {
  return new Command("run-image")
    .description(
      "run an encrypted image with apptainer run --pem-path and remove the key file when the run ends",
    )
    .requiredOption(
      "--pem-file <rsa_pri.pem>",
      "private key on node-local private storage (removed afterwards)",
    )
    .option(
      "--bind <src:dst>",
      "bind a host directory into the container (repeatable; SRC:DST or SRC:DST:ro)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .argument("<image>", "SIF image")
    .argument("[args...]", "arguments for the image's runscript (after --)")
    .addHelpText(
      "after",
      `
The key file is removed (overwritten, then unlinked) when the run ends: on success, on
failure and on interruption. A non-zero exit of the container exits 8.

Examples:
  sealbatch node run-image --pem-file "$PRIV/rsa_pri.pem" app.sif -- --help
  sealbatch node run-image --pem-file "$PRIV/rsa_pri.pem" --bind "$IN:/in:ro" --bind "$OUT:/out" \\
    app.sif -- bart fft -u -i 3 /in/shepp_logan /out/output_fft`,
    )
    .action(async (image, args, opts) => {
      // Checked here rather than while parsing: the step module loads only when the command runs.
      const { parseBind, runImage } = await import("../node/run_image.ts");
      const binds = opts.bind.map(parseBind);
      await atStage("run-image", () => runImage({ pemFile: opts.pemFile, image, binds, args }));
    });
}
