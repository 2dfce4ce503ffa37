import { inputError, q } from "./errors.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse "90s", "15m", "72h", "1h30m", "7d" (or bare seconds) into milliseconds. */
export function parseDuration(text: string, what = "duration"): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const re = /(\d+)([smhd])/g;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(re)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * (UNITS[match[2] ?? "s"] ?? 0);
    consumed += match[0].length;
  }
  if (trimmed === "" || consumed !== trimmed.length || total <= 0 || !Number.isSafeInteger(total)) {
    throw inputError(`invalid ${what} ${q(text)}`, {
      hint: "use a positive duration such as 90s, 15m, 72h or 1h30m",
    });
  }
  return total;
}

/** Milliseconds as a short human duration ("1h 5m", "2.3s"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h ${m}m` : `${m}m ${rest}s`;
}
