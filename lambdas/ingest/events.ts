import type { S3Event, SQSEvent } from 'aws-lambda';
import { InvalidEventError } from './errors';
import type { ObjectRef } from './types';

/** Reasons for skipping an event record without ingesting anything. */
export const SkipReason = {
  /** `s3:TestEvent` that S3 sends when a notification configuration is saved. */
  TestEvent: 'test-event',
  /** Record of an event other than `ObjectCreated:*`, such as `ObjectRemoved:Delete`. */
  NotObjectCreated: 'not-object-created',
  /** Object whose key ends in `/`, which the S3 console creates to show a folder. */
  FolderMarker: 'folder-marker',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** Event record that was skipped on purpose, with a detail for the log. */
export interface SkippedRecord {
  readonly reason: SkipReason;
  readonly detail: string;
  /** Bucket and decoded key, when the record names an object. */
  readonly bucket?: string;
  readonly key?: string;
}

/**
 * Objects and skipped records of one SQS message, or of one record of a plain S3 event.
 * When `error` is set, the message is not a valid S3 event notification, `objects` and
 * `skipped` are empty, and the message must be reported as failed so that it reaches the
 * dead-letter queue instead of being dropped.
 */
export interface BatchEntry {
  /** SQS message id, or `s3-record-<index>` for a record of a plain S3 event. */
  readonly messageId: string;
  readonly objects: ObjectRef[];
  readonly skipped: SkippedRecord[];
  readonly error?: InvalidEventError;
}

/**
 * Reads the S3 objects named by an SQS batch of S3 event notifications, or by a plain S3 event.
 *
 * Returns one entry per SQS message, or per record of a plain S3 event. Keys are decoded the
 * way S3 encodes them in events: `+` is a space, then percent escapes are UTF-8 bytes, so
 * `%2B` is a literal `+`. `s3:TestEvent` messages, records other than `ObjectCreated:*` and
 * folder markers (keys ending in `/`) are skipped. A message whose body is not JSON or not an
 * S3 event notification gets an entry with `error` set, because it must fail, not vanish.
 *
 * @throws InvalidEventError when the event itself has no `Records` array
 */
export function parseBatch(event: SQSEvent | S3Event): BatchEntry[] {
  const records: unknown = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) {
    throw new InvalidEventError(
      'Invalid Lambda event: expected an SQS or S3 event with a "Records" array.',
    );
  }

  return records.map((record: unknown, index) => {
    if (isObject(record) && record.eventSource === 'aws:sqs') {
      return parseSqsMessage(record);
    }
    return parseEntry(`s3-record-${index}`, () => parseS3Records([record], `s3-record-${index}`));
  });
}

function parseSqsMessage(message: Record<string, unknown>): BatchEntry {
  const messageId = typeof message.messageId === 'string' ? message.messageId : 'unknown';
  return parseEntry(messageId, () => {
    if (typeof message.body !== 'string') {
      throw invalid(messageId, 'the message has no string body');
    }

    let body: unknown;
    try {
      body = JSON.parse(message.body);
    } catch (error) {
      throw invalid(messageId, `the body is not valid JSON (${(error as Error).message})`);
    }

    if (isObject(body) && body.Event === 's3:TestEvent') {
      const bucket = typeof body.Bucket === 'string' ? body.Bucket : 'unknown';
      return {
        objects: [],
        skipped: [{ reason: SkipReason.TestEvent, detail: `s3:TestEvent for bucket ${bucket}` }],
      };
    }
    if (!isObject(body) || !Array.isArray(body.Records)) {
      throw invalid(messageId, 'the body has no "Records" array');
    }
    return parseS3Records(body.Records, messageId);
  });
}

function parseEntry(
  messageId: string,
  parse: () => Pick<BatchEntry, 'objects' | 'skipped'>,
): BatchEntry {
  try {
    return { messageId, ...parse() };
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return { messageId, objects: [], skipped: [], error };
  }
}

function parseS3Records(
  records: readonly unknown[],
  messageId: string,
): Pick<BatchEntry, 'objects' | 'skipped'> {
  const objects: ObjectRef[] = [];
  const skipped: SkippedRecord[] = [];

  records.forEach((record, index) => {
    const where = `record ${index}`;
    const eventName = isObject(record) ? record.eventName : undefined;
    const s3 = isObject(record) ? record.s3 : undefined;
    const bucket = isObject(s3) && isObject(s3.bucket) ? s3.bucket.name : undefined;
    const object = isObject(s3) ? s3.object : undefined;
    if (typeof eventName !== 'string' || typeof bucket !== 'string' || !isObject(object)) {
      throw invalid(
        messageId,
        `${where} is not an S3 event record: eventName, s3.bucket.name or s3.object is missing`,
      );
    }
    if (typeof object.key !== 'string') {
      throw invalid(messageId, `${where} has no string s3.object.key`);
    }

    const key = decodeKey(object.key, messageId);
    if (!eventName.startsWith('ObjectCreated:')) {
      skipped.push({
        reason: SkipReason.NotObjectCreated,
        detail: `${eventName} for s3://${bucket}/${key}`,
        bucket,
        key,
      });
      return;
    }
    if (key.endsWith('/')) {
      skipped.push({
        reason: SkipReason.FolderMarker,
        detail: `s3://${bucket}/${key}`,
        bucket,
        key,
      });
      return;
    }

    objects.push({
      bucket,
      key,
      ...optionalSize(object.size, messageId, where),
      ...optionalString('eTag', object.eTag, messageId, where),
      ...optionalString('versionId', object.versionId, messageId, where),
      ...optionalString('sequencer', object.sequencer, messageId, where),
    });
  });

  return { objects, skipped };
}

/** Decodes an event key: `+` is a space, then percent escapes are decoded as UTF-8. */
function decodeKey(encodedKey: string, messageId: string): string {
  try {
    return decodeURIComponent(encodedKey.replace(/\+/g, ' '));
  } catch {
    throw invalid(messageId, `the object key "${encodedKey}" has an invalid percent escape`);
  }
}

function optionalSize(value: unknown, messageId: string, where: string): { size?: number } {
  if (value === undefined || value === null) {
    return {};
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(messageId, `${where} has an invalid s3.object.size ${JSON.stringify(value)}`);
  }
  return { size: value };
}

function optionalString<Name extends string>(
  name: Name,
  value: unknown,
  messageId: string,
  where: string,
): { [key in Name]?: string } {
  if (value === undefined || value === null) {
    return {};
  }
  if (typeof value !== 'string') {
    throw invalid(messageId, `${where} has a non-string s3.object.${name}`);
  }
  return { [name]: value } as { [key in Name]?: string };
}

function invalid(messageId: string, problem: string): InvalidEventError {
  return new InvalidEventError(
    `Invalid event message ${messageId}: ${problem}. Expected an S3 event notification, so ` +
      'check what sends events to this function.',
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
