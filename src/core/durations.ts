const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/;

/**
 * Parses a duration such as `15m`, `24h`, `30d`, `500ms` or `1.5h` into milliseconds; `undefined` when malformed.
 * A bare number is milliseconds. Units: ms, s, m, h, d, w, y (365 d).
 *
 * @example
 * parseDuration('15m'); // 900000
 */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const match = PATTERN.exec(trimmed);
  if (!match) return undefined;
  const value = Number(match[1]) * (UNITS[match[2] as string] as number);
  return Number.isFinite(value) ? Math.round(value) : undefined;
}

/** Formats milliseconds as the largest whole unit, e.g. 90000 → `90s`, 86400000 → `1d`. */
export function formatDuration(ms: number): string {
  for (const unit of ['y', 'w', 'd', 'h', 'm', 's'] as const) {
    const size = UNITS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
