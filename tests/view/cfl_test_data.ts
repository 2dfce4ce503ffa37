/**
 * Test data written byte by byte here, independently of src/view/cfl.ts, so
 * the reader is checked against the format rather than against itself.
 */
export async function writeRawCfl(
  base: string,
  dims: number[],
  value: (index: number) => [number, number],
): Promise<void> {
  const samples = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(samples * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples; i++) {
    const [re, im] = value(i);
    view.setFloat32(8 * i, re, true);
    view.setFloat32(8 * i + 4, im, true);
  }
  await Deno.writeFile(`${base}.cfl`, bytes);
  await Deno.writeTextFile(`${base}.hdr`, `# Dimensions\n${dims.join(" ")}\n`);
}

/** Interleaved complex samples of a `.cfl` file. */
export async function readRawCfl(path: string): Promise<Float32Array> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}
