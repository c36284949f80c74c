/**
 * The records the control worker writes into shared memory, each declared once: the names of
 * its header cells and of its per-joint blocks. Every offset a writer or a reader uses is
 * derived from these declarations (`header.tick`, `block('command', n)`, `size(n)`), so a field
 * added or moved here moves everywhere, and nothing else in the code knows a literal offset.
 * Offsets are plain numbers computed once (at construction, outside the tick), so the hot path
 * indexes typed arrays exactly as before.
 */

type Cells<K extends string> = { readonly [P in K]: number };

function cells<const K extends readonly string[]>(names: K): Cells<K[number]> {
  return Object.freeze(Object.fromEntries(names.map((name, i) => [name, i]))) as Cells<K[number]>;
}

/** A record of named header cells, then one block of `jointCount` cells per named field. */
export interface JointRecord<H extends string, B extends string> {
  readonly header: Cells<H>;
  readonly headerSize: number;
  readonly blocks: readonly B[];
  /** Offset of the first cell of block `name` in a record for `jointCount` joints. */
  block(name: B, jointCount: number): number;
  /** Cells of the header and all blocks (a record may have a tail after them). */
  size(jointCount: number): number;
}

function jointRecord<const H extends readonly string[], const B extends readonly string[]>(header: H, blocks: B): JointRecord<H[number], B[number]> {
  const headerSize = header.length;
  const index = cells(blocks);
  return {
    header: cells(header),
    headerSize,
    blocks,
    block: (name, jointCount) => headerSize + index[name] * jointCount,
    size: (jointCount) => headerSize + blocks.length * jointCount,
  };
}

/** Named views over one record's blocks (made once: subarrays allocate only here). */
export type BlockViews<B extends string> = { readonly [P in B]: Float64Array };

export function blockViews<H extends string, B extends string>(record: JointRecord<H, B>, buffer: Float64Array, jointCount: number, at = 0): BlockViews<B> {
  const views: Partial<Record<B, Float64Array>> = {};
  for (const name of record.blocks) {
    const start = at + record.block(name, jointCount);
    views[name] = buffer.subarray(start, start + jointCount);
  }
  return views as BlockViews<B>;
}

/**
 * The latest state, written every tick under a seqlock (Ctrl.SNAPSHOT_SEQ): header, the
 * measured position, velocity and effort and the command sent, per joint; then the simulated
 * world's state (its tail, empty on real hardware).
 */
export const SnapshotRecord = jointRecord(['tick', 'timeMs', 'mode'], ['position', 'velocity', 'effort', 'command']);

/**
 * One trace ring entry per tick (TRACE_CAPACITY of them): what the loop read and sent, and what
 * the envelope was asked for (`requested`: the policy's target after the queue, before the
 * envelope; NaN while braking or holding), so every intervention is visible.
 */
export const TraceRecord = jointRecord(['tick', 'timeMs', 'latenessUs', 'mode', 'estop', 'powered'], ['position', 'velocity', 'effort', 'command', 'requested']);

/** One event ring entry (EVENT_CAPACITY of them). joint -1: not about one joint; requested/commanded NaN when unused. */
export const EventRecord = cells(['tick', 'kind', 'code', 'from', 'to', 'value', 'joint', 'requested', 'commanded']);
export const EVENT_RECORD_SIZE = Object.keys(EventRecord).length;

/** The chunk hand-over cell: its header, then horizon × actionDim values (absolute targets, robot units). */
export const ChunkRecord = cells(['observationTick', 'actionCount']);
export const CHUNK_HEADER_SIZE = Object.keys(ChunkRecord).length;
