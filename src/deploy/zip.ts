/**
 * A minimal ZIP writer (deflate, no ZIP64) for Lambda deployment packages, on node:zlib alone so the
 * package needs no archive library at run time. Every entry gets the same fixed timestamp and mode:
 * the same files always make the same bytes, so a CDK asset hash only changes when the code does.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  /** Path inside the archive, with forward slashes. */
  readonly name: string;
  readonly data: Uint8Array;
}

/** 1980-01-01 00:00, the earliest MS-DOS date: fixed so archives are reproducible. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** Made by Unix (3), spec 2.0; the external attributes then carry the mode -rw-r--r--. */
const MADE_BY = (3 << 8) | 20;
const VERSION_NEEDED = 20;
const UTF8_NAMES = 0x0800;
const DEFLATE = 8;
const FILE_MODE = (0o100644 << 16) >>> 0;
const MAX_32 = 0xffffffff;

/** A little-endian field: its size in bytes and its value. */
type Field = readonly [2 | 4, number];

function fields(list: readonly Field[]): Buffer {
  const buf = Buffer.alloc(list.reduce((n, [size]) => n + size, 0));
  let at = 0;
  for (const [size, value] of list) {
    if (size === 2) buf.writeUInt16LE(value, at);
    else buf.writeUInt32LE(value, at);
    at += size;
  }
  return buf;
}

export function createZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const entry of entries) {
    if (names.has(entry.name)) throw new Error(`createZip: duplicate entry ${entry.name}`);
    names.add(entry.name);
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data);
    if (entry.data.length > MAX_32 || compressed.length > MAX_32 || offset > MAX_32)
      throw new Error(`createZip: ${entry.name} is too large for a ZIP without ZIP64`);

    // The fields local and central headers share, from "general purpose flags" to "name length".
    const shared: Field[] = [
      [2, UTF8_NAMES],
      [2, DEFLATE],
      [2, DOS_TIME],
      [2, DOS_DATE],
      [4, crc],
      [4, compressed.length],
      [4, entry.data.length],
      [2, name.length],
    ];
    const local = fields([[4, 0x04034b50], [2, VERSION_NEEDED], ...shared, [2, 0]]);
    const central = fields([
      [4, 0x02014b50],
      [2, MADE_BY],
      [2, VERSION_NEEDED],
      ...shared,
      [2, 0], // extra field length
      [2, 0], // comment length
      [2, 0], // disk number
      [2, 0], // internal attributes
      [4, FILE_MODE],
      [4, offset],
    ]);

    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = fields([
    [4, 0x06054b50],
    [2, 0], // this disk
    [2, 0], // disk where the directory starts
    [2, entries.length],
    [2, entries.length],
    [4, directory.length],
    [4, offset],
    [2, 0], // comment length
  ]);
  return Buffer.concat([...locals, directory, end]);
}
