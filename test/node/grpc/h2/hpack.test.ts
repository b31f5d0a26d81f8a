// HPACK against RFC 7541 Appendix C (every example header block, decoded on one decoder per series so the
// dynamic table and its evictions are checked after each step), Huffman's error cases (§5.2), and the
// encoder's output decoding back to its input.
import { describe, expect, test } from "bun:test";
import { encodeHeaders, type HeaderField, HpackDecoder, HpackError, static_table } from "../../../../src/node/grpc/h2/hpack.ts";
import { huffmanDecode, huffmanEncode, HuffmanError } from "../../../../src/node/grpc/h2/huffman.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

interface Step {
  block: string;
  fields: HeaderField[];
  table: HeaderField[];
  size: number;
}

function series(tableSize: number, steps: Step[]): void {
  const decoder = new HpackDecoder(tableSize);
  for (const step of steps) {
    expect(decoder.decode(hex(step.block))).toEqual(step.fields);
    expect([...decoder.tableEntries]).toEqual(step.table);
    expect(decoder.tableSize).toBe(step.size);
  }
}

const www: HeaderField = [":authority", "www.example.com"];
const requests = (blocks: [string, string, string]): Step[] => [
  { block: blocks[0], fields: [[":method", "GET"], [":scheme", "http"], [":path", "/"], www], table: [www], size: 57 },
  { block: blocks[1], fields: [[":method", "GET"], [":scheme", "http"], [":path", "/"], www, ["cache-control", "no-cache"]], table: [["cache-control", "no-cache"], www], size: 110 },
  {
    block: blocks[2],
    fields: [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], www, ["custom-key", "custom-value"]],
    table: [["custom-key", "custom-value"], ["cache-control", "no-cache"], www],
    size: 164,
  },
];

const date1: HeaderField = ["date", "Mon, 21 Oct 2013 20:13:21 GMT"];
const date2: HeaderField = ["date", "Mon, 21 Oct 2013 20:13:22 GMT"];
const location: HeaderField = ["location", "https://www.example.com"];
const priv: HeaderField = ["cache-control", "private"];
const cookie: HeaderField = ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"];
const responses = (blocks: [string, string, string]): Step[] => [
  { block: blocks[0], fields: [[":status", "302"], priv, date1, location], table: [location, date1, priv, [":status", "302"]], size: 222 },
  { block: blocks[1], fields: [[":status", "307"], priv, date1, location], table: [[":status", "307"], location, date1, priv], size: 222 },
  { block: blocks[2], fields: [[":status", "200"], priv, date2, location, ["content-encoding", "gzip"], cookie], table: [cookie, ["content-encoding", "gzip"], date2], size: 215 },
];

describe("RFC 7541 Appendix C", () => {
  test("C.2: literal with indexing, without indexing, never indexed; indexed", () => {
    series(4096, [{ block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", fields: [["custom-key", "custom-header"]], table: [["custom-key", "custom-header"]], size: 55 }]);
    series(4096, [{ block: "040c 2f73 616d 706c 652f 7061 7468", fields: [[":path", "/sample/path"]], table: [], size: 0 }]);
    series(4096, [{ block: "1008 7061 7373 776f 7264 0673 6563 7265 74", fields: [["password", "secret"]], table: [], size: 0 }]);
    series(4096, [{ block: "82", fields: [[":method", "GET"]], table: [], size: 0 }]);
  });

  test("C.3: requests without Huffman", () => {
    series(4096, requests(["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]));
  });

  test("C.4: requests with Huffman", () => {
    series(4096, requests(["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]));
  });

  test("C.5: responses without Huffman, 256-byte table with evictions", () => {
    series(
      256,
      responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
      ]),
    );
  });

  test("C.6: responses with Huffman, 256-byte table with evictions", () => {
    series(
      256,
      responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
      ]),
    );
  });
});

describe("Huffman (RFC 7541 §5.2)", () => {
  const decode = (bytes: number[]) => huffmanDecode(Uint8Array.from(bytes), 0, bytes.length);

  test("every byte value round-trips through the code", () => {
    let text = "";
    for (let c = 0; c < 256; c++) text += String.fromCharCode(c);
    const encoded = huffmanEncode(text);
    expect(huffmanDecode(encoded, 0, encoded.length)).toBe(text);
    expect(Buffer.from(huffmanEncode("custom-value")).toString("hex")).toBe("25a849e95bb8e8b4bf");
  });

  test("padding over 7 bits, padding that is not all ones, and EOS are errors", () => {
    for (const bad of [[0xff], [0x1f, 0xff], [0x1f, 0xff, 0xff, 0xff], [0xff, 0x9f, 0xff, 0xff, 0xff], [0x00], [0xff, 0xff, 0xff, 0xff, 0xfc]]) {
      expect(() => decode(bad)).toThrow(HuffmanError);
    }
  });
});

describe("decoder limits", () => {
  test("bad indexes, truncated blocks, a size update above the limit or after a field: HpackError", () => {
    const bad = ["80", "be", "ff 80 80 80 80 80 01", "40 0a 6375", "3f e2 1f", "82 20", "41 85 f1e3c2e5f2"];
    for (const block of bad) expect(() => new HpackDecoder(4096).decode(hex(block))).toThrow(HpackError);
  });

  test("a size update at the start of a block shrinks (and empties) the table", () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    expect(decoder.tableSize).toBe(55);
    expect(decoder.decode(hex("20 82"))).toEqual([[":method", "GET"]]);
    expect(decoder.tableSize).toBe(0);
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });
});

test("static table has RFC 7541 Appendix A's 61 entries", () => {
  expect(static_table.length).toBe(62);
  expect(static_table[1]).toEqual([":authority", ""]);
  expect(static_table[8]).toEqual([":status", "200"]);
  expect(static_table[31]).toEqual(["content-type", ""]);
  expect(static_table[61]).toEqual(["www-authenticate", ""]);
});

test("encodeHeaders: what the server sends decodes back to the same fields", () => {
  const fields: HeaderField[] = [[":status", "200"], ["content-type", "application/grpc+proto"], ["grpc-status", "5"], ["grpc-message", "etcdserver:%20key%20not%20found"], ["x-long", "v".repeat(300)]];
  expect(new HpackDecoder(4096).decode(encodeHeaders(fields))).toEqual(fields);
});

test("HpackDecoder.generation changes with every table change and only then", () => {
  const decoder = new HpackDecoder(4_096);
  const g0 = decoder.generation;
  decoder.decode(Uint8Array.from([0x82, 0x86])); // indexed static entries only
  expect(decoder.generation).toBe(g0);
  decoder.decode(Uint8Array.from([0x40, 1, 0x61, 1, 0x62])); // literal with incremental indexing "a: b"
  const g1 = decoder.generation;
  expect(g1).not.toBe(g0);
  decoder.decode(Uint8Array.from([0xbe, 0x00, 1, 0x63, 1, 0x64])); // index 62 and a literal without indexing
  expect(decoder.generation).toBe(g1);
  decoder.decode(Uint8Array.from([0x20])); // size update to 0: the table empties
  expect(decoder.generation).not.toBe(g1);
});
