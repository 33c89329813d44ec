/**
 * go-diskqueue v1.1.0's on-disk names and metadata text (docs/nsqd.md#disk-queue). Private to
 * lib/nsqd.
 *
 * - data segments: `<dataPath>/<name>.diskqueue.<%06d>.dat`, records `[int32 BE length][payload]`
 * - metadata: `<dataPath>/<name>.diskqueue.meta.dat`, text `"%d\n%d,%d\n%d,%d\n"` =
 *   depth, readFileNum,readPos, writeFileNum,writePos
 *
 * @module
 */

/** The positions go-diskqueue persists in its metadata file. */
export interface DiskQueueMeta {
  depth: number;
  readFileNum: number;
  readPos: number;
  writeFileNum: number;
  writePos: number;
}

/** `path.Join` without a trailing slash, enough for the data path (which nsqd makes absolute). */
function joinPath(dir: string, file: string): string {
  const d = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  return d === "" ? file : `${d}/${file}`;
}

/** `<dataPath>/<name>.diskqueue.<%06d>.dat` */
export function dataFileName(dataPath: string, name: string, fileNum: number): string {
  return joinPath(dataPath, `${name}.diskqueue.${String(fileNum).padStart(6, "0")}.dat`);
}

/** `<dataPath>/<name>.diskqueue.meta.dat` */
export function metaDataFileName(dataPath: string, name: string): string {
  return joinPath(dataPath, `${name}.diskqueue.meta.dat`);
}

/** The metadata file's exact text (Go: `fmt.Fprintf(f, "%d\n%d,%d\n%d,%d\n", ...)`). */
export function formatMetaData(m: DiskQueueMeta): string {
  return `${m.depth}\n${m.readFileNum},${m.readPos}\n${m.writeFileNum},${m.writePos}\n`;
}

const META_RE = /^([+-]?\d+)\n([+-]?\d+),([+-]?\d+)\n([+-]?\d+),([+-]?\d+)(?:\n|$)/;

/**
 * Parses metadata text as Go's `fmt.Fscanf(f, "%d\n%d,%d\n%d,%d\n", ...)` would; throws an Error
 * naming the problem when the text does not match or a position is negative.
 */
export function parseMetaData(text: string): DiskQueueMeta {
  const m = META_RE.exec(text);
  if (m === null) throw new Error(`malformed metadata ${JSON.stringify(text.slice(0, 64))}`);
  const n = m.slice(1, 6).map(Number);
  for (const v of n) {
    if (!Number.isSafeInteger(v)) {
      throw new Error(`metadata value out of range in ${JSON.stringify(text)}`);
    }
  }
  const [depth, readFileNum, readPos, writeFileNum, writePos] = n;
  if (readFileNum < 0 || readPos < 0 || writeFileNum < 0 || writePos < 0) {
    throw new Error(`negative file number or position in ${JSON.stringify(text)}`);
  }
  return { depth, readFileNum, readPos, writeFileNum, writePos };
}
