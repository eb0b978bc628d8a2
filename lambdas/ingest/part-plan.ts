import { ConfigurationError, FileTooLargeError, IngestError } from './errors';
import type { PartRange } from './types';

/** One mebibyte (2^20 bytes). */
export const MIB_BYTES = 1024 * 1024;

/** One gibibyte (2^30 bytes). */
export const GIB_BYTES = 1024 * MIB_BYTES;

/** Minimum size of every part but the last: the S3 multipart limit, which the STAC API keeps. */
export const MIN_PART_SIZE_BYTES = 5 * MIB_BYTES;

/** Maximum size of one part: the S3 multipart limit, which the STAC API keeps. */
export const MAX_PART_SIZE_BYTES = 5 * GIB_BYTES;

/** Maximum number of parts the STAC API accepts in one upload. */
export const MAX_PARTS = 100;

/** Largest object that fits in {@link MAX_PARTS} parts of {@link MAX_PART_SIZE_BYTES}. */
export const MAX_OBJECT_SIZE_BYTES = MAX_PARTS * MAX_PART_SIZE_BYTES;

/** Part size used when none is configured. Objects up to this size are sent as one part. */
export const DEFAULT_PART_SIZE_BYTES = 64 * MIB_BYTES;

/** Part plan that breaks the STAC API's multipart limits. */
export class InvalidPartPlanError extends IngestError {
  readonly retryable = false;
}

/** Options of {@link planParts}. */
export interface PartPlanOptions {
  /**
   * Size of every part but the last, in bytes, between {@link MIN_PART_SIZE_BYTES} and
   * {@link MAX_PART_SIZE_BYTES}. It is raised when the object would need more than
   * {@link MAX_PARTS} parts.
   * @default DEFAULT_PART_SIZE_BYTES (64 MiB)
   */
  readonly partSizeBytes?: number;
}

/**
 * Splits an object into the parts of a multipart upload.
 *
 * Every part but the last has the configured part size. When that would need more than
 * {@link MAX_PARTS} parts, the part size is raised to `size / MAX_PARTS`, rounded up to a
 * whole MiB. An empty object is one empty part, `[0, 0)`.
 *
 * @param size - object size in bytes
 * @throws ConfigurationError when `partSizeBytes` is not an integer within the part limits
 * @throws FileTooLargeError when `size` exceeds {@link MAX_OBJECT_SIZE_BYTES}
 * @throws RangeError when `size` is negative or not an integer
 */
export function planParts(size: number, options: PartPlanOptions = {}): PartRange[] {
  const configuredPartSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
  if (
    !Number.isSafeInteger(configuredPartSize) ||
    configuredPartSize < MIN_PART_SIZE_BYTES ||
    configuredPartSize > MAX_PART_SIZE_BYTES
  ) {
    throw new ConfigurationError(
      `Invalid part size ${configuredPartSize} bytes: it must be a whole number of bytes from ` +
        `${MIN_PART_SIZE_BYTES} (5 MiB) to ${MAX_PART_SIZE_BYTES} (5 GiB).`,
    );
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Invalid object size ${size}: expected a non-negative integer.`);
  }
  if (size > MAX_OBJECT_SIZE_BYTES) {
    throw new FileTooLargeError(
      `The object is ${size} bytes, larger than the STAC API's limit of ` +
        `${MAX_OBJECT_SIZE_BYTES} bytes (${MAX_PARTS} parts of 5 GiB). Split the data into ` +
        'smaller files.',
    );
  }

  if (size === 0) {
    return [{ partNumber: 1, start: 0, end: 0 }];
  }

  let partSize = configuredPartSize;
  if (Math.ceil(size / partSize) > MAX_PARTS) {
    partSize = Math.ceil(Math.ceil(size / MAX_PARTS) / MIB_BYTES) * MIB_BYTES;
  }

  const parts: PartRange[] = [];
  for (let start = 0; start < size; start += partSize) {
    parts.push({ partNumber: parts.length + 1, start, end: Math.min(start + partSize, size) });
  }
  return parts;
}

/**
 * Checks a part plan against the STAC API's multipart limits: parts numbered from 1 without
 * gaps, contiguous from byte 0 to `size`, at most {@link MAX_PARTS}, none larger than
 * {@link MAX_PART_SIZE_BYTES}, every part but the last at least {@link MIN_PART_SIZE_BYTES}
 * and none empty unless the object is.
 *
 * @throws InvalidPartPlanError listing every limit the plan breaks
 */
export function assertValidPartPlan(parts: readonly PartRange[], size: number): void {
  const problems: string[] = [];
  if (parts.length === 0) {
    problems.push('the plan has no parts');
  }
  if (parts.length > MAX_PARTS) {
    problems.push(`the plan has ${parts.length} parts, more than ${MAX_PARTS}`);
  }

  let expectedStart = 0;
  parts.forEach((part, index) => {
    const length = part.end - part.start;
    const isLast = index === parts.length - 1;
    if (part.partNumber !== index + 1) {
      problems.push(`part ${index + 1} has part number ${part.partNumber}`);
    }
    if (part.start !== expectedStart) {
      problems.push(`part ${part.partNumber} starts at ${part.start}, expected ${expectedStart}`);
    }
    if (length > MAX_PART_SIZE_BYTES) {
      problems.push(
        `part ${part.partNumber} has ${length} bytes, more than ${MAX_PART_SIZE_BYTES}`,
      );
    }
    if (!isLast && length < MIN_PART_SIZE_BYTES) {
      problems.push(
        `part ${part.partNumber} has ${length} bytes, less than ${MIN_PART_SIZE_BYTES}, ` +
          'and is not the last part',
      );
    }
    if (length <= 0 && size > 0) {
      problems.push(`part ${part.partNumber} is empty or reversed (${part.start} to ${part.end})`);
    }
    expectedStart = part.end;
  });

  if (parts.length > 0 && expectedStart !== size) {
    problems.push(`the last part ends at ${expectedStart}, but the object has ${size} bytes`);
  }

  if (problems.length > 0) {
    throw new InvalidPartPlanError(`Invalid part plan for ${size} bytes: ${problems.join('; ')}.`);
  }
}
