/**
 * A byte stream read as lines of at most `max` characters: a longer line is
 * dropped whole (its start and its rest alike), never split into pieces that
 * could pass for lines of their own.
 */
export function lineSink(
  onLine: (line: string) => void,
  max: number,
  /** Told of each line dropped for its length. */
  onDropped?: () => void,
): WritableStream<Uint8Array> {
  const decoder = new TextDecoder();
  let pending = "";
  let overlong = false;
  return new WritableStream({
    write(chunk) {
      const lines = (pending + decoder.decode(chunk, { stream: true })).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!overlong && line.length <= max) onLine(line);
        else onDropped?.();
        overlong = false;
      }
      if (pending.length > max) [pending, overlong] = ["", true];
    },
    close() {
      if (!overlong && pending !== "" && pending.length <= max) onLine(pending);
    },
  });
}
