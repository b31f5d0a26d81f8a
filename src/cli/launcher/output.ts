import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";

// output.ts: where a launched node's stdout and stderr go. Either appended to one log file per node (each start
// opens with a marker line, so a reader can find the output of the last start), or copied line by line to our
// own output with a "[nN]" prefix (`npm start`), or dropped.

/** OutputMode: "log" appends to the node's log file; "ignore" drops it; prefixed copies it to the given streams. */
export type OutputMode = "log" | "ignore" | { stdout: LineSink; stderr: LineSink };

/** LineSink: anything with a write(text), such as process.stdout. */
export interface LineSink {
  write(text: string): unknown;
}

/** start_marker: the text every start marker line begins with (test/cluster/support.ts looks for it). */
export const start_marker = "=== harness: start #";

/** openLogForStart appends the start marker to `logPath` and returns the open fd; the caller closes it after spawn. */
export function openLogForStart(logPath: string, start: number, argv: string[]): number {
  const fd = openSync(logPath, "a");
  writeSync(fd, `\n${start_marker}${start} at ${new Date().toISOString()}: ${argv.join(" ")}\n`);
  return fd;
}

/** closeLog closes an fd from openLogForStart (the child keeps its own copy). */
export function closeLog(fd: number): void {
  closeSync(fd);
}

/** pipeLines copies a child's stream to `sink`, one prefixed line at a time. */
export async function pipeLines(stream: ReadableStream<Uint8Array>, prefix: string, sink: LineSink): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    // consola's fancy reporter pads warnings with blank lines; they carry nothing once prefixed.
    for (const line of lines) if (line.trim() !== "") sink.write(`${prefix} ${line}\n`);
  }
  if (pending.trim() !== "") sink.write(`${prefix} ${pending}\n`);
}

/** tailLines reads the last lines of a file without loading all of it. */
export function tailLines(file: string, count: number): string[] {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return ["(no log file)"];
  }
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}
