/** `sealbatch sample`: the project's own example data. */
import { Command } from "@commander-js/extra-typings";
import { SAMPLE_SIZE, writeSheppLoganSample } from "../sample/shepp_logan.ts";
import { result } from "./output.ts";

export function sampleCommand(): Command {
  const sample = new Command("sample").description("write example input data")
    .addHelpText("after", "\nExamples:\n  sealbatch sample shepp-logan --out input");
  sample.command("shepp-logan")
    .description(
      `write the ${SAMPLE_SIZE}x${SAMPLE_SIZE} Shepp-Logan k-space (as 'bart phantom -k') as ` +
        "shepp_logan.cfl/.hdr",
    )
    .requiredOption("--out <dir>", "directory to write into (created if missing)")
    .addHelpText(
      "after",
      "\nThe data is computed from the phantom's ellipses, so no binary file ships with sealbatch;\n" +
        "'bart fft -u -i 3 DIR/shepp_logan out' reconstructs the phantom image.\n" +
        "\nExamples:\n" +
        "  sealbatch sample shepp-logan --out input\n" +
        "  sealbatch view input/shepp_logan.cfl --out kspace.png --log",
    )
    .action(async (opts) => {
      const base = await writeSheppLoganSample(opts.out);
      result(`wrote ${base}.cfl and ${base}.hdr`, { cfl: `${base}.cfl`, hdr: `${base}.hdr` });
    });
  return sample;
}
