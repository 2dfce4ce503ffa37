/** `sealbatch view`: a BART result as a PNG. */
import { Command } from "@commander-js/extra-typings";
import { result } from "./output.ts";

export function viewCommand(): Command {
  const view = new Command("view");
  view.description("write the magnitude of a BART .cfl/.hdr image as an 8-bit grayscale PNG")
    .argument("<file>", "BART data: NAME.cfl, NAME.hdr or NAME")
    .requiredOption("--out <png>", "PNG file to create (an existing file is refused)")
    .option("--log", "log scale (5 decades), for k-space", false)
    .addHelpText(
      "after",
      "\nThe first two dimensions larger than one form the image, the first one down the rows\n" +
        "(as BART's toimg shows it); of further dimensions only the first slice is drawn.\n" +
        "\nExamples:\n" +
        "  sealbatch view output_fft.cfl --out output_fft.png\n" +
        "  sealbatch view shepp_logan --out kspace.png --log",
    )
    .action(async (file, opts) => {
      const { viewCfl } = await import("../view/view.ts");
      const r = await viewCfl({ input: file, out: opts.out, log: opts.log });
      const more = r.slices > 1 ? ` (first of ${r.slices} slices)` : "";
      result(`wrote ${r.out}: ${r.width}x${r.height} ${r.scale} magnitude${more}`, r);
    });
  return view;
}
