/**
 * Key order is UTF-8 byte order (etcd compares keys as bytes), which is code point order. JS `<` compares
 * UTF-16 code units, which agrees except for a surrogate (U+D800-DFFF, part of a code point >= U+10000)
 * against a unit in U+E000-FFFF: compareKeys fixes exactly that case.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return fixup(x) - fixup(y);
    return x - y;
  }
  return a.length - b.length;
}

/** fixup moves surrogates above U+E000-FFFF, where their code points belong. */
function fixup(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit <= 0xdfff) return unit + 0x2000;
  return unit;
}

/** from_key_range_end as range_end means "every key from `key` on" (etcd's "\0"). */
export const from_key_range_end = "\0";

/**
 * inRange: one key when rangeEnd is undefined or empty; [key, rangeEnd) otherwise; rangeEnd "\0" is
 * from-key. (etcd: key "\0" with range_end "\0" is every key, which this gives since "\0" is the least key.)
 */
export function inRange(candidate: string, key: string, rangeEnd: string | undefined): boolean {
  if (rangeEnd === undefined || rangeEnd === "") return candidate === key;
  if (compareKeys(candidate, key) < 0) return false;
  return rangeEnd === from_key_range_end || compareKeys(candidate, rangeEnd) < 0;
}

/** isRange: the request names more than one key. */
export function isRange(rangeEnd: string | undefined): boolean {
  return rangeEnd !== undefined && rangeEnd !== "";
}

/**
 * prefixEnd is the range_end that makes [prefix, end) every key starting with prefix: the prefix with its
 * last code point incremented (dropping trailing U+10FFFF); "\0" (from-key) when nothing can be incremented.
 */
export function prefixEnd(prefix: string): string {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points[points.length - 1]!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Skip the surrogate block: it holds no code points.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      points[points.length - 1] = String.fromCodePoint(next);
      return points.join("");
    }
    points.pop();
  }
  return from_key_range_end;
}
