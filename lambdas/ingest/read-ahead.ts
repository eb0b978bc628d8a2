import { ObjectSizeMismatchError } from './digests';
import { MIB_BYTES } from './part-plan';

/** Bytes of one ranged read when none is configured. */
export const DEFAULT_READ_RANGE_BYTES = 16 * MIB_BYTES;

/** Ranged reads in flight or buffered, the one being consumed included, when none is configured. */
export const DEFAULT_READ_AHEAD_DEPTH = 4;

/** Byte range `start` (inclusive) to `end` (exclusive). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** A stream of bytes; `destroy` is called when the reader stops before the stream ends. */
export type RangeStream = AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void };

/** Opens a stream of one byte range of the object. */
export type RangeOpener = (range: ByteRange) => Promise<RangeStream>;

/** Options of {@link readAhead}. */
export interface ReadAheadOptions {
  /** Bytes of each ranged read. @default DEFAULT_READ_RANGE_BYTES (16 MiB) */
  readonly rangeSizeBytes?: number;
  /**
   * Ranged reads open at the same time, the one being consumed included. At most
   * `depth * rangeSizeBytes` bytes are buffered. @default DEFAULT_READ_AHEAD_DEPTH (4)
   */
  readonly depth?: number;
}

/** One ranged read and the chunks it received that the consumer has not taken yet. */
class PendingRange {
  readonly chunks: Uint8Array[] = [];
  done = false;
  error: unknown;
  private stream?: RangeStream;
  private cancelled = false;
  private wake?: () => void;

  constructor(readonly range: ByteRange) {}

  /** Reads the whole range into `chunks`; never rejects, so an unawaited range cannot crash. */
  async fetch(open: RangeOpener): Promise<void> {
    let received = 0;
    try {
      this.stream = await open(this.range);
      if (this.cancelled) {
        this.stream.destroy?.();
        return;
      }
      for await (const chunk of this.stream) {
        received += chunk.length;
        this.chunks.push(chunk);
        this.notify();
      }
      const expected = this.range.end - this.range.start;
      if (received !== expected) {
        throw new ObjectSizeMismatchError(
          `The ranged read of bytes ${this.range.start} to ${this.range.end} returned ` +
            `${received} bytes, expected ${expected}: the object was replaced or the read was ` +
            'cut short. A retry reads the object again.',
        );
      }
    } catch (error) {
      this.error = error;
    } finally {
      this.done = true;
      this.notify();
    }
  }

  /** Resolves when a chunk arrives or the read ends. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  cancel(): void {
    this.cancelled = true;
    this.chunks.length = 0;
    if (!this.done) this.stream?.destroy?.();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * Reads `size` bytes of an object in order, with up to `depth` ranged reads open at once so that
 * the next ranges arrive while the consumer processes the current one.
 *
 * Chunks are yielded as they arrive, without copying. Each range must return exactly its length.
 * When the consumer stops early or a read fails, the reads still open are destroyed.
 *
 * @throws ObjectSizeMismatchError when a range returns more or fewer bytes than requested
 * @throws the error of the first failed ranged read, when the consumer reaches that range
 */
export async function* readAhead(
  open: RangeOpener,
  size: number,
  options: ReadAheadOptions = {},
): AsyncGenerator<Uint8Array> {
  const rangeSize = options.rangeSizeBytes ?? DEFAULT_READ_RANGE_BYTES;
  const depth = options.depth ?? DEFAULT_READ_AHEAD_DEPTH;
  if (!Number.isSafeInteger(rangeSize) || rangeSize < 1) {
    throw new RangeError(`Invalid range size ${rangeSize}: expected a positive integer.`);
  }
  if (!Number.isSafeInteger(depth) || depth < 1) {
    throw new RangeError(`Invalid read-ahead depth ${depth}: expected a positive integer.`);
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Invalid object size ${size}: expected a non-negative integer.`);
  }

  const inFlight: PendingRange[] = [];
  let nextStart = 0;
  const startNext = () => {
    const pending = new PendingRange({
      start: nextStart,
      end: Math.min(nextStart + rangeSize, size),
    });
    nextStart = pending.range.end;
    inFlight.push(pending);
    void pending.fetch(open);
  };

  try {
    while (nextStart < size && inFlight.length < depth) startNext();
    while (inFlight.length > 0) {
      const current = inFlight[0];
      for (;;) {
        const chunk = current.chunks.shift();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (current.done) break;
        await current.changed();
      }
      if (current.error !== undefined) throw current.error;
      inFlight.shift();
      if (nextStart < size) startNext();
    }
  } finally {
    for (const pending of inFlight) pending.cancel();
  }
}
