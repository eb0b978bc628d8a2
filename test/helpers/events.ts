import type { S3Event, S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';

/** Fields of an S3 event record that tests set. The other fields get fixed sample values. */
export interface S3RecordOptions {
  /** Decoded object key, encoded here the way S3 encodes keys in events. */
  readonly key?: string;
  /** Key exactly as it appears in the event, used instead of encoding `key`. */
  readonly encodedKey?: string;
  /** @default 'ingest-bucket' */
  readonly bucket?: string;
  /** @default 'ObjectCreated:Put' */
  readonly eventName?: string;
  /** @default 1024 */
  readonly size?: number;
  /** @default 'd41d8cd98f00b204e9800998ecf8427e' */
  readonly eTag?: string;
  /** @default undefined, as in an unversioned bucket */
  readonly versionId?: string;
  /** @default '0062E0B3A7C5F8E3A1' */
  readonly sequencer?: string;
}

/**
 * Encodes an object key as S3 writes it into event notifications: form encoding, with a space
 * as `+` and non-ASCII and most reserved characters as UTF-8 percent escapes.
 *
 * NOTE: `encodeURIComponent` leaves `!'()*` unescaped, and S3 may escape a slightly different
 * set. Decoding gives the same key either way.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+');
}

/** Builds an S3 event notification record for one object. */
export function s3Record(options: S3RecordOptions = {}): S3EventRecord {
  const key = options.key ?? 'ch.swisstopo.demo/item-1/dem.tif';
  const object: S3EventRecord['s3']['object'] = {
    key: options.encodedKey ?? encodeS3EventKey(key),
    size: options.size ?? 1024,
    eTag: options.eTag ?? 'd41d8cd98f00b204e9800998ecf8427e',
    sequencer: options.sequencer ?? '0062E0B3A7C5F8E3A1',
  };
  if (options.versionId !== undefined) {
    object.versionId = options.versionId;
  }

  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-central-1',
    eventTime: '2024-05-01T12:00:00.000Z',
    eventName: options.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'EXAMPLE123', 'x-amz-id-2': 'EXAMPLE456' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'ingest',
      bucket: {
        name: options.bucket ?? 'ingest-bucket',
        ownerIdentity: { principalId: 'EXAMPLE' },
        arn: `arn:aws:s3:::${options.bucket ?? 'ingest-bucket'}`,
      },
      object,
    },
  };
}

/** Builds the `s3:TestEvent` message that S3 sends when a notification configuration is saved. */
export function s3TestEvent(bucket = 'ingest-bucket'): Record<string, string> {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2024-05-01T12:00:00.000Z',
    Bucket: bucket,
    RequestId: 'EXAMPLE123',
    HostId: 'EXAMPLE456',
  };
}

/**
 * Builds an SQS message as Lambda delivers it from a queue.
 *
 * @param body - a string is sent as is, anything else as JSON; pass S3 records or
 *   {@link s3TestEvent} output, or a broken string to test error handling
 */
export function sqsMessage(
  body: S3EventRecord[] | Record<string, unknown> | string,
  messageId = 'message-1',
): SQSRecord {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else if (Array.isArray(body)) {
    text = JSON.stringify({ Records: body });
  } else {
    text = JSON.stringify(body);
  }

  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1714564800000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1714564800001',
    },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:ingest-queue',
    awsRegion: 'eu-central-1',
  };
}

/** Builds an SQS event from messages. */
export function sqsEvent(...messages: SQSRecord[]): SQSEvent {
  return { Records: messages };
}

/** Builds a plain S3 event, as S3 sends it when it invokes a function directly. */
export function s3Event(...records: S3EventRecord[]): S3Event {
  return { Records: records };
}
