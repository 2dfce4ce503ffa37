/**
 * How big the ext4 file system inside a container is: what the content needs
 * (data blocks, inode table, journal, group metadata) plus headroom for the
 * job's outputs, never less than the content needs.
 */
import { usageError } from "../util/errors.ts";
import type { SourceStats } from "./tree.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const INODE_BYTES = 256;
/** Average size assumed for output files when reserving inodes for headroom. */
const BYTES_PER_SPARE_INODE = 64 * 1024;
/**
 * Smallest file system sealbatch makes: every byte of a container is uploaded,
 * and a job's input is often a few small files (a cohort's container is then
 * a 512 KiB header and this). Below 8 MiB mkfs.ext4 makes no journal, which a
 * container that is written once and then only read does not need.
 */
export const MIN_FS_BYTES = 256 * KiB;
/**
 * The output container a node that mounts it (root with device-mapper) makes
 * when the job spec gives no output_size, and the least output_size allowed:
 * there the job can write no more than this.
 */
export const MIN_OUTPUT_BYTES = 2 * MiB;
/** Inodes beyond the content's: many when there is room for outputs, a few for a read-only copy. */
const SPARE_INODES = { headroom: 1024, readOnly: 16 };

export type Headroom = { mib: number } | { percent: number };

/** Default headroom: the larger of 64 MiB and a quarter of the content. */
export const DEFAULT_HEADROOM = "max(64 MiB, 25%)";

export function parseHeadroom(text: string): Headroom {
  const pct = /^(\d{1,4})%$/.exec(text);
  if (pct) return { percent: Number(pct[1]) };
  if (/^\d{1,9}$/.test(text)) return { mib: Number(text) };
  throw usageError(
    `invalid --headroom ${JSON.stringify(text)}: expected MiB (64) or a percentage (25%)`,
  );
}

/** `auto` or a file system size in MiB. */
export function parseSize(text: string): "auto" | number {
  if (text === "auto") return "auto";
  if (/^\d{1,9}$/.test(text) && Number(text) > 0) return Number(text) * MiB;
  throw usageError(`invalid --size ${JSON.stringify(text)}: expected "auto" or a size in MiB`);
}

/** mke2fs' default journal size for a file system of `blocks` 4 KiB blocks. */
function journalBytes(blocks: number): number {
  const table: [number, number][] = [
    [2048, 0],
    [32768, 1024],
    [256 * 1024, 4096],
    [512 * 1024, 8192],
    [4096 * 1024, 16384],
    [8192 * 1024, 32768],
    [16384 * 1024, 65536],
    [32768 * 1024, 131072],
  ];
  for (const [limit, journal] of table) if (blocks < limit) return journal * 4096;
  return 262144 * 4096;
}

function headroomBytes(stats: SourceStats, headroom: Headroom | undefined): number {
  if (headroom === undefined) return Math.max(64 * MiB, stats.contentBytes / 4);
  if ("mib" in headroom) return headroom.mib * MiB;
  return (stats.contentBytes * headroom.percent) / 100;
}

export interface FsPlan {
  bytes: number;
  inodes: number;
}

/**
 * Metadata ext4 needs around `data` bytes of content with `inodes` inodes,
 * with a margin (1 MiB, less for a small file system; seal retries larger
 * when mkfs finds it too small).
 */
function withMetadata(data: number, inodes: number): number {
  let total = data;
  for (let i = 0; i < 4; i++) {
    const groups = Math.ceil(total / (128 * MiB));
    const used = Math.ceil(data * 1.01) + inodes * INODE_BYTES + journalBytes(total / 4096) +
      groups * 64 * KiB;
    total = used + Math.min(MiB, Math.max(64 * KiB, used >> 3));
  }
  return total;
}

/** Whole MiB, or 64 KiB steps below 8 MiB (small containers are most of a cohort's upload). */
const round = (n: number) => {
  const step = n < 8 * MiB ? 64 * KiB : MiB;
  return Math.ceil(n / step) * step;
};

/** The least a file system holding this content can be. */
export function minimumBytes(stats: SourceStats): number {
  return Math.max(
    MIN_FS_BYTES,
    round(withMetadata(stats.contentBytes, stats.entries + SPARE_INODES.readOnly)),
  );
}

/** Size and inode count for `auto`, or for an explicit size (checked against the minimum). */
export function planFs(
  stats: SourceStats,
  size: "auto" | number,
  headroom: Headroom | undefined,
): FsPlan {
  if (size !== "auto") {
    const spare = Math.max(0, size - stats.contentBytes);
    return {
      bytes: size,
      inodes: stats.entries + SPARE_INODES.headroom + Math.floor(spare / BYTES_PER_SPARE_INODE),
    };
  }
  const room = headroomBytes(stats, headroom);
  const inodes = stats.entries + (room > 0 ? SPARE_INODES.headroom : SPARE_INODES.readOnly) +
    Math.ceil(room / BYTES_PER_SPARE_INODE);
  const bytes = Math.max(MIN_FS_BYTES, round(withMetadata(stats.contentBytes + room, inodes)));
  return { bytes, inodes };
}
