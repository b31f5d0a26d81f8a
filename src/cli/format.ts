// format.ts: plain-text output helpers for client commands (no colours: output is often piped).

/** table renders rows under headers, columns padded to their widest cell, two spaces apart. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** print writes one line to stdout. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** printError writes one line to stderr. */
export function printError(text: string): void {
  process.stderr.write(`${text}\n`);
}
