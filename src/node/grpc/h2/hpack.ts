// HPACK (RFC 7541): the header-block decoder with its dynamic table, and a small encoder that sends literals
// without indexing (never Huffman, never the dynamic table: every decoder accepts that, and the server's
// answers carry only a handful of short headers).
import { HuffmanError, huffmanDecode } from "./huffman.ts";

/** static_table: RFC 7541 Appendix A, entries 1..61 as [name, value] (index 0 is unused). */
export const static_table: readonly (readonly [string, string])[] = [
  ["", ""],
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const static_count = static_table.length - 1;

/** entry_overhead: bytes counted per dynamic-table entry on top of name and value (RFC 7541 §4.1). */
const entry_overhead = 32;

/** HpackError: a header block that cannot be decoded; the connection must end with COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackError extends Error {
  override name = "HpackError";
}

/** HeaderField: one decoded header, in the block's order. */
export type HeaderField = [name: string, value: string];

/**
 * HpackDecoder: one per connection (the dynamic table is the connection's state, RFC 7541 §2.3.2).
 * Invariant: size is the sum of the entries' sizes and size <= maxSize <= limit.
 */
export class HpackDecoder {
  /** entries: the dynamic table, the newest first (index 62 is entries[0]). */
  private entries: HeaderField[] = [];
  private size = 0;
  private maxSize: number;
  /**
   * generation: bumped by every change of the dynamic table (insert, eviction, size update). A block whose
   * decoding left it unchanged decodes the same again while it stays unchanged (connection.ts's block cache).
   */
  generation = 0;

  /** limit: SETTINGS_HEADER_TABLE_SIZE we advertised; a size update above it is an error. */
  constructor(private readonly limit: number) {
    this.maxSize = limit;
  }

  /** decode: the fields of one whole header block (HEADERS plus CONTINUATIONs); throws HpackError. */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let at = 0;
    let fieldSeen = false;
    const int = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = block[at++]! & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (at >= block.length) throw new HpackError("header block ends inside an integer");
        const byte = block[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) break;
        if (shift > 28) throw new HpackError("integer too large");
      }
      return value;
    };
    const str = (): string => {
      if (at >= block.length) throw new HpackError("header block ends before a string");
      const huffman = (block[at]! & 0x80) !== 0;
      const length = int(7);
      const end = at + length;
      if (end > block.length) throw new HpackError("string longer than the header block");
      let text: string;
      try {
        text = huffman ? huffmanDecode(block, at, end) : latin1(block, at, end);
      } catch (error) {
        throw error instanceof HuffmanError ? new HpackError(error.message) : error;
      }
      at = end;
      return text;
    };
    while (at < block.length) {
      const first = block[at]!;
      if (first & 0x80) {
        // §6.1 indexed header field.
        fields.push(this.at(int(7)));
        fieldSeen = true;
      } else if (first & 0x40) {
        // §6.2.1 literal with incremental indexing.
        const index = int(6);
        const name = index === 0 ? str() : this.at(index)[0];
        const field: HeaderField = [name, str()];
        fields.push(field);
        this.insert(field);
        fieldSeen = true;
      } else if (first & 0x20) {
        // §6.3 dynamic table size update: only at the start of a block (§4.2).
        if (fieldSeen) throw new HpackError("dynamic table size update after a header field");
        const size = int(5);
        if (size > this.limit) throw new HpackError(`dynamic table size ${size} above the advertised ${this.limit}`);
        this.maxSize = size;
        this.generation++;
        this.evict(0);
      } else {
        // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001): 4-bit prefix.
        const index = int(4);
        const name = index === 0 ? str() : this.at(index)[0];
        fields.push([name, str()]);
        fieldSeen = true;
      }
    }
    return fields;
  }

  /** tableSize: the dynamic table's size as §4.1 counts it (tests). */
  get tableSize(): number {
    return this.size;
  }

  /** tableEntries: the dynamic table, newest first (tests). */
  get tableEntries(): readonly HeaderField[] {
    return this.entries;
  }

  private at(index: number): HeaderField {
    if (index === 0) throw new HpackError("header index 0");
    if (index <= static_count) {
      const entry = static_table[index]!;
      return [entry[0], entry[1]];
    }
    const entry = this.entries[index - static_count - 1];
    if (entry === undefined) throw new HpackError(`header index ${index} beyond the dynamic table`);
    return entry;
  }

  private insert(field: HeaderField): void {
    const entrySize = field[0].length + field[1].length + entry_overhead;
    // §4.4: an entry larger than the table empties it and is not added.
    this.evict(entrySize);
    this.generation++;
    if (entrySize > this.maxSize) return;
    this.entries.unshift(field);
    this.size += entrySize;
  }

  /** evict drops the oldest entries until `room` more bytes fit under maxSize. */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.maxSize) {
      const old = this.entries.pop()!;
      this.size -= old[0].length + old[1].length + entry_overhead;
    }
  }
}

/** latin1: the octets as a string; Buffer's native decoding when it is one (~1.5× faster than the loop). */
function latin1(block: Uint8Array, start: number, end: number): string {
  if (block instanceof Buffer) return block.toString("latin1", start, end);
  let out = "";
  for (let i = start; i < end; i++) out += String.fromCharCode(block[i]!);
  return out;
}

/** static_name_index: the first static index of each name, for literal-with-name-reference encoding. */
const static_name_index = new Map<string, number>();
for (let i = static_count; i >= 1; i--) static_name_index.set(static_table[i]![0], i);

/**
 * encodeHeaders: a header block for `fields` (names lowercase) as literals without indexing (§6.2.2), a static
 * name index where there is one, ":status 200" as the indexed static entry 8. Values are raw octets (latin1).
 */
export function encodeHeaders(fields: readonly HeaderField[]): Uint8Array {
  const bytes: number[] = [];
  const int = (value: number, prefixBits: number, firstByte: number) => {
    const mask = (1 << prefixBits) - 1;
    if (value < mask) {
      bytes.push(firstByte | value);
      return;
    }
    bytes.push(firstByte | mask);
    value -= mask;
    while (value >= 0x80) {
      bytes.push((value & 0x7f) | 0x80);
      value = Math.floor(value / 0x80);
    }
    bytes.push(value);
  };
  const str = (text: string) => {
    int(text.length, 7, 0);
    for (let i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i) & 0xff);
  };
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      bytes.push(0x88);
      continue;
    }
    const index = static_name_index.get(name);
    if (index === undefined) {
      bytes.push(0);
      str(name);
    } else int(index, 4, 0);
    str(value);
  }
  return Uint8Array.from(bytes);
}
