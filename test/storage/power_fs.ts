// PowerFs: an in-memory StorageFs that knows what is durable, for power-loss tests.
// - File data: every write or truncate is pending until an fsync/fdatasync of the file covers it (a sync covers
//   what was written before it was called; async syncs complete later, on the next macrotask).
// - Directory entries: a create, rename or unlink is pending until an fsync of its directory covers it.
// - cut() gives the image a power cut at this moment can leave: durable data and entries, plus (when asked) a
//   prefix of the pending writes of each file, the next one torn (a prefix of its bytes, or garbage), and a
//   prefix of the pending operations of each directory (a journaling file system commits them in order).
// - crash() is a process crash (SIGKILL): the page cache survives, open files and running syncs are gone.
// Everything lives under one root directory, which exists durably from the start.
// Not modelled: writes of one file reaching the disk out of order (a hole before a later write).
import * as path from "node:path";
import type { StorageFileHandle, StorageFs } from "../../src/storage/index.ts";

type DataOp = { kind: "write"; offset: number; bytes: Uint8Array } | { kind: "truncate"; size: number };

class FileNode {
  /** durable: the bytes on disk (never mutated: replaced by a new array). */
  durable: Uint8Array = new Uint8Array(0);
  /** data/size: what a read sees now (data has spare capacity past size). */
  data: Uint8Array = new Uint8Array(0);
  size = 0;
  /** pending: operations since `durable`, in order. */
  pending: DataOp[] = [];

  apply(op: DataOp): void {
    this.pending.push(op);
    applyTo(this, op);
  }

  content(): Uint8Array {
    return this.data.slice(0, this.size);
  }

  /** sync makes durable the first `count` pending operations (all when omitted), given the content after them. */
  sync(count = this.pending.length, after: Uint8Array = this.content()): void {
    this.durable = after;
    this.pending = this.pending.slice(count);
  }
}

interface Buffered {
  data: Uint8Array;
  size: number;
}

function applyTo(target: Buffered, op: DataOp): void {
  if (op.kind === "truncate") {
    if (op.size > target.size) grow(target, op.size);
    else target.data.fill(0, op.size, target.size);
    target.size = op.size;
    return;
  }
  const end = op.offset + op.bytes.byteLength;
  if (end > target.data.byteLength) grow(target, end);
  target.data.set(op.bytes, op.offset);
  if (end > target.size) target.size = end;
}

function grow(target: Buffered, size: number): void {
  if (size <= target.data.byteLength) return;
  const next = new Uint8Array(Math.max(size, target.data.byteLength * 2, 256));
  next.set(target.data.subarray(0, target.size));
  target.data = next;
}

type Node = FileNode | DirNode;
type DirOp = { kind: "link"; name: string; node: Node } | { kind: "unlink"; name: string } | { kind: "rename"; from: string; to: string };

class DirNode {
  durable = new Map<string, Node>();
  entries = new Map<string, Node>();
  pending: DirOp[] = [];

  apply(op: DirOp): void {
    this.pending.push(op);
    applyDirOp(this.entries, op);
  }

  sync(count = this.pending.length, after = new Map(this.entries)): void {
    this.durable = after;
    this.pending = this.pending.slice(count);
  }
}

function applyDirOp(entries: Map<string, Node>, op: DirOp): void {
  if (op.kind === "link") entries.set(op.name, op.node);
  else if (op.kind === "unlink") entries.delete(op.name);
  else {
    const node = entries.get(op.from);
    if (node === undefined) return;
    entries.delete(op.from);
    entries.set(op.to, node);
  }
}

/** PowerImage: what survives a cut, relative to the root: a file's bytes or a directory's entries. */
export type PowerImage = Map<string, PowerImage | Uint8Array>;

export interface CutOptions {
  /** rand(n) draws an integer in [0, n): decides how much of the pending work reached the disk. */
  rand: (n: number) => number;
  /** strict: only what was synced survives (no pending write or directory operation). */
  strict?: boolean;
}

export interface PowerFsOptions {
  /** lyingFdatasync (to prove the checker can fail): fdatasync reports success and makes nothing durable. */
  lyingFdatasync?: boolean;
  /** onMutation is called before every mutation and sync completion, with a short description (cut points). */
  onMutation?: (what: string) => void;
  /**
   * noSpace (a full disk): asked before every write; a number refuses the write with ENOSPC after that many of
   * its bytes reached the file (a partial tail, as write(2) may leave), null lets it through.
   */
  noSpace?: (bytes: number) => number | null;
}

interface OpenFile {
  node: FileNode;
  append: boolean;
  position: number;
  generation: number;
}

export class PowerFs implements StorageFs {
  private root = new DirNode();
  private fds = new Map<number, OpenFile>();
  private nextFd = 3;
  /** generation: bumped by crash(); work of an older generation is dropped. */
  private generation = 0;
  /** mutations counts cut points so far. */
  mutations = 0;

  constructor(
    readonly rootDir: string,
    readonly options: PowerFsOptions = {},
  ) {}

  /** fromImage is a file system holding exactly `image` (all durable), as after a reboot. */
  static fromImage(rootDir: string, image: PowerImage, options: PowerFsOptions = {}): PowerFs {
    const fs = new PowerFs(rootDir, options);
    const build = (dir: DirNode, img: PowerImage) => {
      for (const [name, value] of img) {
        let node: Node;
        if (value instanceof Uint8Array) {
          const file = new FileNode();
          file.durable = value;
          file.data = value.slice();
          file.size = value.byteLength;
          node = file;
        } else {
          const sub = new DirNode();
          build(sub, value);
          node = sub;
        }
        dir.entries.set(name, node);
        dir.durable.set(name, node);
      }
    };
    build(fs.root, image);
    return fs;
  }

  /** crash: the process dies (SIGKILL). Data in the page cache stays; its files and in-flight syncs are gone. */
  crash(): void {
    this.generation++;
    this.fds.clear();
  }

  /** cut: the image a power cut now leaves (see the file comment). Does not change this file system. */
  cut(options: CutOptions): PowerImage {
    const files = new Map<FileNode, Uint8Array>();
    const fileImage = (node: FileNode): Uint8Array => {
      let out = files.get(node);
      if (out === undefined) {
        out = options.strict || node.pending.length === 0 ? node.durable : survivingData(node, options.rand);
        files.set(node, out);
      }
      return out;
    };
    const dirImage = (dir: DirNode): PowerImage => {
      let entries = dir.durable;
      if (!options.strict && dir.pending.length > 0) {
        const keep = options.rand(dir.pending.length + 1);
        if (keep > 0) {
          entries = new Map(dir.durable);
          for (const op of dir.pending.slice(0, keep)) applyDirOp(entries, op);
        }
      }
      const out: PowerImage = new Map();
      for (const [name, node] of entries) out.set(name, node instanceof FileNode ? fileImage(node) : dirImage(node));
      return out;
    };
    return dirImage(this.root);
  }

  /** list gives every file path (relative to the root) with its current size, for failure reports. */
  list(): string[] {
    const out: string[] = [];
    const walk = (dir: DirNode, prefix: string) => {
      for (const [name, node] of [...dir.entries].sort(([a], [b]) => a.localeCompare(b))) {
        if (node instanceof FileNode) out.push(`${prefix}${name} (${node.size} B, ${node.size - node.durable.byteLength} unsynced)`);
        else walk(node, `${prefix}${name}/`);
      }
    };
    walk(this.root, "");
    return out;
  }

  // StorageFs

  mkdirp(dir: string): string | undefined {
    let first: string | undefined;
    let node = this.root;
    let at = this.rootDir;
    for (const part of this.parts(dir)) {
      at = path.join(at, part);
      const child = node.entries.get(part);
      if (child === undefined) {
        this.mutation(`mkdir ${this.rel(at)}`);
        const sub = new DirNode();
        node.apply({ kind: "link", name: part, node: sub });
        first ??= at;
        node = sub;
      } else {
        if (!(child instanceof DirNode)) throw errno("ENOTDIR", at);
        node = child;
      }
    }
    return first;
  }

  readdir(dir: string): string[] {
    return [...this.dir(dir).entries.keys()];
  }

  readFile(file: string): Uint8Array {
    return this.file(file).content();
  }

  async readFileAsync(file: string): Promise<Uint8Array> {
    await this.later();
    return this.readFile(file);
  }

  open(file: string, flags: "a" | "w" | "r+" | "r"): number {
    const { dir, name } = this.parent(file);
    let node = dir.entries.get(name);
    if (node instanceof DirNode) throw errno("EISDIR", file);
    if (node === undefined) {
      if (flags === "r+" || flags === "r") throw errno("ENOENT", file);
      this.mutation(`create ${this.rel(file)}`);
      node = new FileNode();
      dir.apply({ kind: "link", name, node });
    } else if (flags === "w" && node.size > 0) {
      this.mutation(`truncate ${this.rel(file)} to 0`);
      node.apply({ kind: "truncate", size: 0 });
    }
    const fd = this.nextFd++;
    this.fds.set(fd, { node, append: flags === "a", position: 0, generation: this.generation });
    return fd;
  }

  writeAll(fd: number, buf: Uint8Array): void {
    const open = this.fd(fd);
    this.writeAllAt(fd, buf, open.append ? open.node.size : open.position);
  }

  writeAllAt(fd: number, buf: Uint8Array, offset: number): void {
    const open = this.fd(fd);
    const partial = this.options.noSpace?.(buf.byteLength) ?? null;
    if (partial !== null) {
      const part = Math.min(partial, buf.byteLength);
      if (part > 0) {
        this.mutation(`write ${part} B at ${offset} (then ENOSPC)`);
        open.node.apply({ kind: "write", offset, bytes: buf.slice(0, part) });
        open.position = offset + part;
      }
      throw errno("ENOSPC", `fd ${fd}`);
    }
    this.mutation(`write ${buf.byteLength} B at ${offset}`);
    open.node.apply({ kind: "write", offset, bytes: buf.slice() });
    open.position = offset + buf.byteLength;
  }

  fsync(fd: number): void {
    const open = this.fd(fd);
    this.mutation("fsync");
    open.node.sync();
  }

  fdatasync(fd: number): void {
    const open = this.fd(fd);
    this.mutation("fdatasync");
    if (!this.options.lyingFdatasync) open.node.sync();
  }

  fdatasyncAsync(fd: number, done: (error: Error | null) => void): void {
    // A crashed process's sync that was about to start: it never runs, and never answers.
    if (this.fds.get(fd)?.generation !== this.generation) return;
    const open = this.fd(fd);
    const count = open.node.pending.length;
    const after = open.node.content();
    const generation = this.generation;
    setImmediate(() => {
      if (generation !== this.generation) return;
      this.mutation("fdatasync done");
      if (!this.options.lyingFdatasync) open.node.sync(count, after);
      done(null);
    });
  }

  ftruncate(fd: number, size: number): void {
    const open = this.fd(fd);
    this.mutation(`ftruncate to ${size}`);
    open.node.apply({ kind: "truncate", size });
  }

  close(fd: number): void {
    this.fds.delete(fd);
  }

  rename(from: string, to: string): void {
    const a = this.parent(from);
    const b = this.parent(to);
    if (a.dir !== b.dir) throw new Error("PowerFs: rename across directories is not modelled");
    if (!a.dir.entries.has(a.name)) throw errno("ENOENT", from);
    // rename(2) replaces an empty directory, never one with entries (restore publishes its staging dir so).
    const target = b.dir.entries.get(b.name);
    if (target instanceof DirNode && target.entries.size > 0) throw errno("ENOTEMPTY", to);
    this.mutation(`rename ${this.rel(from)} -> ${path.basename(to)}`);
    a.dir.apply({ kind: "rename", from: a.name, to: b.name });
  }

  async renameAsync(from: string, to: string): Promise<void> {
    await this.later();
    this.rename(from, to);
  }

  rm(file: string): void {
    const { dir, name } = this.parent(file);
    if (!dir.entries.has(name)) return;
    this.mutation(`unlink ${this.rel(file)}`);
    dir.apply({ kind: "unlink", name });
  }

  async rmAsync(file: string): Promise<void> {
    await this.later();
    this.rm(file);
  }

  rmdir(dir: string): void {
    const { dir: parent, name } = this.parent(dir);
    const node = parent.entries.get(name);
    if (node === undefined) throw errno("ENOENT", dir);
    if (!(node instanceof DirNode)) throw errno("ENOTDIR", dir);
    if (node.entries.size > 0) throw errno("ENOTEMPTY", dir);
    this.mutation(`rmdir ${this.rel(dir)}`);
    parent.apply({ kind: "unlink", name });
  }

  fsyncDir(dir: string): void {
    const node = this.dir(dir);
    this.mutation(`fsync dir ${this.rel(dir)}`);
    node.sync();
  }

  async fsyncDirAsync(dir: string): Promise<void> {
    const node = this.dir(dir);
    const count = node.pending.length;
    const after = new Map(node.entries);
    await this.later();
    this.mutation(`fsync dir ${this.rel(dir)} done`);
    node.sync(count, after);
  }

  async openForWrite(file: string): Promise<StorageFileHandle> {
    await this.later();
    const fd = this.open(file, "w");
    const alive = () => this.later();
    return {
      write: async (buf, position) => {
        const bytes = buf.slice();
        await alive();
        const open = this.fd(fd);
        if ((this.options.noSpace?.(bytes.byteLength) ?? null) !== null) throw errno("ENOSPC", file);
        this.mutation(`write ${bytes.byteLength} B at ${position}`);
        open.node.apply({ kind: "write", offset: position, bytes });
      },
      sync: async () => {
        const open = this.fd(fd);
        const count = open.node.pending.length;
        const after = open.node.content();
        await alive();
        this.mutation("fsync done");
        open.node.sync(count, after);
      },
      close: async () => {
        this.close(fd);
      },
    };
  }

  /** later resolves on the next macrotask (the thread pool's answer); never, when the process crashed meanwhile. */
  private async later(): Promise<void> {
    const generation = this.generation;
    await tick();
    if (generation !== this.generation) await new Promise(() => {});
  }

  private mutation(what: string): void {
    this.mutations++;
    this.options.onMutation?.(what);
  }

  private rel(p: string): string {
    return path.relative(this.rootDir, p) || ".";
  }

  private parts(p: string): string[] {
    const rel = path.relative(this.rootDir, path.resolve(p));
    if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`PowerFs: ${p} is outside ${this.rootDir}`);
    return rel === "" ? [] : rel.split(path.sep);
  }

  private dir(p: string): DirNode {
    let node: Node = this.root;
    for (const part of this.parts(p)) {
      if (!(node instanceof DirNode)) throw errno("ENOTDIR", p);
      const child: Node | undefined = node.entries.get(part);
      if (child === undefined) throw errno("ENOENT", p);
      node = child;
    }
    if (!(node instanceof DirNode)) throw errno("ENOTDIR", p);
    return node;
  }

  private file(p: string): FileNode {
    const { dir, name } = this.parent(p);
    const node = dir.entries.get(name);
    if (node === undefined) throw errno("ENOENT", p);
    if (!(node instanceof FileNode)) throw errno("EISDIR", p);
    return node;
  }

  private parent(p: string): { dir: DirNode; name: string } {
    return { dir: this.dir(path.dirname(path.resolve(p))), name: path.basename(p) };
  }

  private fd(fd: number): OpenFile {
    const open = this.fds.get(fd);
    if (open === undefined || open.generation !== this.generation) throw errno("EBADF", `fd ${fd}`);
    return open;
  }
}

/** survivingData: the durable bytes plus a prefix of the pending operations, the next one torn or not. */
function survivingData(node: FileNode, rand: (n: number) => number): Uint8Array {
  const keep = rand(node.pending.length + 1);
  const out: Buffered = { data: node.durable.slice(), size: node.durable.byteLength };
  for (const op of node.pending.slice(0, keep)) applyTo(out, op);
  const next = node.pending[keep];
  if (next !== undefined && next.kind === "write" && next.bytes.byteLength > 1 && rand(2) === 0) {
    const length = 1 + rand(next.bytes.byteLength - 1);
    let bytes = next.bytes.subarray(0, length);
    if (rand(2) === 0) {
      // Garbage instead of the data: what a half-written sector may read back as.
      bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = rand(256);
    }
    applyTo(out, { kind: "write", offset: next.offset, bytes });
  }
  return out.data.slice(0, out.size);
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function errno(code: string, p: string): Error {
  return Object.assign(new Error(`${code}: ${p}`), { code });
}
