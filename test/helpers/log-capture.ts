/** Log lines written to stdout and stderr while a capture was running. */
export interface LogCapture {
  /** Every line written so far, in order. */
  readonly lines: string[];
  /** Returns the lines that parse as JSON objects, such as those of the Powertools Logger. */
  records(from?: number): Record<string, unknown>[];
  /** Restores the original stream writers. */
  stop(): void;
}

type Write = typeof process.stdout.write;

/**
 * Captures what the process writes to stdout and stderr. The Powertools Logger writes each
 * log line with a `Console` bound to these streams, so this captures every line of the function
 * running in the same process. Lines are passed on to the original streams only when
 * `passThrough` is set.
 */
export function captureLogs(options: { passThrough?: boolean } = {}): LogCapture {
  const lines: string[] = [];
  const originals: [NodeJS.WriteStream, Write][] = [
    [process.stdout, process.stdout.write],
    [process.stderr, process.stderr.write],
  ];
  for (const [stream, original] of originals) {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
      for (const line of text.split('\n')) if (line !== '') lines.push(line);
      if (options.passThrough)
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      const callback = rest.find((argument) => typeof argument === 'function');
      if (typeof callback === 'function') callback();
      return true;
    }) as Write;
  }
  return {
    lines,
    records: (from = 0) =>
      lines.slice(from).flatMap((line) => {
        try {
          const parsed: unknown = JSON.parse(line);
          return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? [parsed as Record<string, unknown>]
            : [];
        } catch {
          return [];
        }
      }),
    stop: () => {
      for (const [stream, original] of originals) stream.write = original;
    },
  };
}
