import { Readable } from 'node:stream';
import { ObjectSizeMismatchError } from '../../lambdas/ingest/digests';
import { type ByteRange, type RangeOpener, readAhead } from '../../lambdas/ingest/read-ahead';

/** Deterministic bytes whose value depends on the offset. */
function patternBytes(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let index = 0; index < size; index++) data[index] = (index * 7 + (index >> 8)) & 0xff;
  return data;
}

/** Opens ranges of `data` as streams of `chunkSize` chunks, recording each range opened. */
function rangesOf(data: Buffer, chunkSize = 100) {
  const opened: ByteRange[] = [];
  const streams: Readable[] = [];
  const open: RangeOpener = async (range) => {
    opened.push(range);
    const chunks: Buffer[] = [];
    for (let offset = range.start; offset < range.end; offset += chunkSize) {
      chunks.push(data.subarray(offset, Math.min(offset + chunkSize, range.end)));
    }
    const stream = Readable.from(chunks, { objectMode: false });
    streams.push(stream);
    return stream;
  };
  return { open, opened, streams };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('readAhead', () => {
  it('yields the bytes in order', async () => {
    const data = patternBytes(10_500);
    const { open, opened } = rangesOf(data, 333);

    const result = await collect(readAhead(open, data.length, { rangeSizeBytes: 1000, depth: 3 }));

    expect(result.equals(data)).toBe(true);
    expect(opened).toHaveLength(11);
    expect(opened[10]).toEqual({ start: 10_000, end: 10_500 });
  });

  it('reads nothing for an empty object', async () => {
    const { open, opened } = rangesOf(Buffer.alloc(0));

    const result = await collect(readAhead(open, 0));

    expect(result.length).toBe(0);
    expect(opened).toEqual([]);
  });

  it('keeps at most depth ranges ahead of the consumer', async () => {
    const rangeSize = 1000;
    const depth = 3;
    const data = patternBytes(20_000);
    let consumed = 0;
    const aheadAtOpen: number[] = [];
    const { open: openRange } = rangesOf(data);
    const open: RangeOpener = (range) => {
      aheadAtOpen.push(range.end - consumed);
      return openRange(range);
    };

    for await (const chunk of readAhead(open, data.length, { rangeSizeBytes: rangeSize, depth })) {
      // A slow consumer lets every open range finish before the next chunk is taken.
      await new Promise((resolve) => setImmediate(resolve));
      consumed += chunk.length;
    }

    expect(aheadAtOpen).toHaveLength(20);
    expect(Math.max(...aheadAtOpen)).toBeLessThanOrEqual(depth * rangeSize);
    expect(consumed).toBe(data.length);
  });

  it('opens the next ranges before the first is consumed', async () => {
    const data = patternBytes(4000);
    const { open, opened } = rangesOf(data);
    const reader = readAhead(open, data.length, { rangeSizeBytes: 1000, depth: 4 });

    await reader.next();

    expect(opened.map((range) => range.start)).toEqual([0, 1000, 2000, 3000]);
    await reader.return(undefined);
  });

  it('raises the error of a range that failed to open', async () => {
    const data = patternBytes(5000);
    const { open: openRange } = rangesOf(data);
    const open: RangeOpener = (range) =>
      range.start === 2000 ? Promise.reject(new Error('access denied')) : openRange(range);
    let received = 0;

    const read = async () => {
      for await (const chunk of readAhead(open, data.length, { rangeSizeBytes: 1000 })) {
        received += chunk.length;
      }
    };

    await expect(read()).rejects.toThrow('access denied');
    expect(received).toBe(2000);
  });

  it('raises a stream error in the middle of a range', async () => {
    const data = patternBytes(3000);
    const open: RangeOpener = async (range) =>
      range.start === 1000
        ? Readable.from(
            (async function* () {
              yield data.subarray(1000, 1500);
              throw new Error('socket hang up');
            })(),
            { objectMode: false },
          )
        : Readable.from([data.subarray(range.start, range.end)], { objectMode: false });

    await expect(collect(readAhead(open, data.length, { rangeSizeBytes: 1000 }))).rejects.toThrow(
      'socket hang up',
    );
  });

  it('rejects a range that returns too few bytes', async () => {
    const data = patternBytes(3000);
    const open: RangeOpener = async (range) =>
      Readable.from([data.subarray(range.start, range.end - (range.start === 1000 ? 1 : 0))], {
        objectMode: false,
      });

    await expect(
      collect(readAhead(open, data.length, { rangeSizeBytes: 1000 })),
    ).rejects.toBeInstanceOf(ObjectSizeMismatchError);
  });

  it('rejects a range that returns too many bytes', async () => {
    const data = patternBytes(3000);
    const open: RangeOpener = async (range) =>
      Readable.from([data.subarray(range.start, range.end + 1)], { objectMode: false });

    await expect(collect(readAhead(open, 2000, { rangeSizeBytes: 1000 }))).rejects.toBeInstanceOf(
      ObjectSizeMismatchError,
    );
  });

  it('destroys the open streams when the consumer stops', async () => {
    // Each stream sends its first chunk and then stalls, as a slow connection would.
    const streams: Readable[] = [];
    const open: RangeOpener = async () => {
      const stream = new Readable({ read() {} });
      stream.push(Buffer.alloc(10));
      streams.push(stream);
      return stream;
    };

    for await (const _chunk of readAhead(open, 8000, { rangeSizeBytes: 1000, depth: 4 })) {
      break;
    }

    expect(streams).toHaveLength(4);
    expect(streams.every((stream) => stream.destroyed)).toBe(true);
  });

  it.each([
    ['range size 0', { rangeSizeBytes: 0 }, 10],
    ['depth 0', { depth: 0 }, 10],
    ['negative size', {}, -1],
  ])('rejects %s', async (_name, options, size) => {
    const { open } = rangesOf(Buffer.alloc(10));

    await expect(collect(readAhead(open, size, options))).rejects.toBeInstanceOf(RangeError);
  });
});
