import type { SQSEvent } from 'aws-lambda';
import { InvalidEventError } from '../../lambdas/ingest/errors';
import { parseBatch, SkipReason } from '../../lambdas/ingest/events';
import {
  encodeS3EventKey,
  s3Event,
  s3Record,
  s3TestEvent,
  sqsEvent,
  sqsMessage,
} from '../helpers/events';

describe('events', () => {
  describe('parseBatch', () => {
    it('returns the object of an ObjectCreated record', () => {
      // Arrange
      const event = sqsEvent(
        sqsMessage(
          [
            s3Record({
              bucket: 'data-bucket',
              key: 'coll/item/dem.tif',
              size: 2079,
              eTag: 'abc123',
              versionId: 'v1',
              sequencer: '00A1',
            }),
          ],
          'message-1',
        ),
      );

      // Act
      const entries = parseBatch(event);

      // Assert
      expect(entries).toEqual([
        {
          messageId: 'message-1',
          objects: [
            {
              bucket: 'data-bucket',
              key: 'coll/item/dem.tif',
              size: 2079,
              eTag: 'abc123',
              versionId: 'v1',
              sequencer: '00A1',
            },
          ],
          skipped: [],
        },
      ]);
    });

    it('omits fields the record does not carry', () => {
      // Arrange
      const record = s3Record({ key: 'coll/dem.tif' });
      const { size: _size, eTag: _eTag, sequencer: _sequencer, ...object } = record.s3.object;
      const bare = { ...record, s3: { ...record.s3, object } };

      // Act
      const entries = parseBatch(sqsEvent(sqsMessage({ Records: [bare] })));

      // Assert
      expect(entries[0].objects).toEqual([{ bucket: 'ingest-bucket', key: 'coll/dem.tif' }]);
    });

    it('returns one entry per message in order', () => {
      // Arrange
      const event = sqsEvent(
        sqsMessage([s3Record({ key: 'c/a.tif' }), s3Record({ key: 'c/b.tif' })], 'first'),
        sqsMessage([s3Record({ key: 'c/c.tif' })], 'second'),
      );

      // Act
      const entries = parseBatch(event);

      // Assert
      expect(entries.map((entry) => entry.messageId)).toEqual(['first', 'second']);
      expect(entries[0].objects.map((object) => object.key)).toEqual(['c/a.tif', 'c/b.tif']);
      expect(entries[1].objects.map((object) => object.key)).toEqual(['c/c.tif']);
    });

    it.each([
      ['Copy', 'ObjectCreated:Copy'],
      ['Post', 'ObjectCreated:Post'],
      ['CompleteMultipartUpload', 'ObjectCreated:CompleteMultipartUpload'],
    ])('accepts ObjectCreated:%s', (_name, eventName) => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage([s3Record({ eventName })])));

      // Assert
      expect(entries[0].objects).toHaveLength(1);
      expect(entries[0].skipped).toEqual([]);
    });

    it('skips the S3 test event', () => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage(s3TestEvent('data-bucket'), 'test-1')));

      // Assert
      expect(entries).toEqual([
        {
          messageId: 'test-1',
          objects: [],
          skipped: [
            { reason: SkipReason.TestEvent, detail: 's3:TestEvent for bucket data-bucket' },
          ],
        },
      ]);
    });

    it('skips records other than ObjectCreated', () => {
      // Arrange
      const record = s3Record({ eventName: 'ObjectRemoved:Delete', key: 'coll/old file.tif' });

      // Act
      const entries = parseBatch(sqsEvent(sqsMessage([record])));

      // Assert
      expect(entries[0].objects).toEqual([]);
      expect(entries[0].skipped).toEqual([
        {
          reason: 'not-object-created',
          detail: 'ObjectRemoved:Delete for s3://ingest-bucket/coll/old file.tif',
          bucket: 'ingest-bucket',
          key: 'coll/old file.tif',
        },
      ]);
    });

    it('skips folder markers', () => {
      // Arrange
      const records = [s3Record({ key: 'coll/item/', size: 0 }), s3Record({ key: 'coll/a.csv' })];

      // Act
      const entries = parseBatch(sqsEvent(sqsMessage(records)));

      // Assert
      expect(entries[0].objects.map((object) => object.key)).toEqual(['coll/a.csv']);
      expect(entries[0].skipped).toEqual([
        {
          reason: 'folder-marker',
          detail: 's3://ingest-bucket/coll/item/',
          bucket: 'ingest-bucket',
          key: 'coll/item/',
        },
      ]);
    });

    it.each([
      ['a space', 'coll/item/my file.tif', 'coll/item/my+file.tif'],
      ['a plus', 'coll/item/a+b.tif', 'coll/item/a%2Bb.tif'],
      ['a percent sign', 'coll/item/100%.tif', 'coll/item/100%25.tif'],
      [
        'umlauts, plus and percent',
        'coll/item/Höhe Modell+v2 (100%).tif',
        'coll/item/H%C3%B6he+Modell%2Bv2+%28100%25%29.tif',
      ],
      ['raw parentheses', 'coll/item/a (1).tif', 'coll/item/a+(1).tif'],
      ['an emoji', 'coll/item/map 🗺️.kml', 'coll/item/map+%F0%9F%97%BA%EF%B8%8F.kml'],
      ['an encoded slash', 'coll/item/a/b.tif', 'coll%2Fitem%2Fa%2Fb.tif'],
      ['a literal %2F', 'coll/item/a%2Fb.tif', 'coll/item/a%252Fb.tif'],
    ])('decodes a key with %s', (_name, expectedKey, encodedKey) => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage([s3Record({ encodedKey })])));

      // Assert
      expect(entries[0].objects[0].key).toBe(expectedKey);
    });

    it.each(['coll/item/Höhe Modell+v2 (100%).tif', 'coll/item/map 🗺️ + ü.kml', 'a/b/%2F.tif'])(
      'round-trips the helper encoding of %s',
      (key) => {
        // Arrange
        const record = s3Record({ key });

        // Act
        const entries = parseBatch(sqsEvent(sqsMessage([record])));

        // Assert
        expect(record.s3.object.key).toBe(encodeS3EventKey(key));
        expect(entries[0].objects[0].key).toBe(key);
      },
    );

    it('reports a body that is not JSON with the message id', () => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage('not json', 'broken-1')));

      // Assert
      expect(entries).toHaveLength(1);
      expect(entries[0].messageId).toBe('broken-1');
      expect(entries[0].objects).toEqual([]);
      expect(entries[0].skipped).toEqual([]);
      expect(entries[0].error).toBeInstanceOf(InvalidEventError);
      expect(entries[0].error?.message).toMatch(
        /^Invalid event message broken-1: the body is not valid JSON \(.+\)\. Expected an S3 event notification, so check what sends events to this function\.$/,
      );
    });

    it.each([
      ['an object without Records', { hello: 'world' }],
      ['an SNS envelope', { Type: 'Notification', Message: '{}' }],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a Records string', { Records: 'nope' }],
    ])('reports %s', (_name, body) => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage(body, 'odd-1')));

      // Assert
      expect(entries[0].error).toBeInstanceOf(InvalidEventError);
      expect(entries[0].error?.message).toBe(
        'Invalid event message odd-1: the body has no "Records" array. Expected an S3 event ' +
          'notification, so check what sends events to this function.',
      );
    });

    it.each([
      ['no s3 field', { eventName: 'ObjectCreated:Put' }, 'record 0 is not an S3 event record'],
      [
        'no key',
        { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: {} } },
        'record 0 has no string s3.object.key',
      ],
      [
        'a negative size',
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'c/a.tif', size: -1 } },
        },
        'record 0 has an invalid s3.object.size -1',
      ],
      [
        'a numeric eTag',
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'c/a.tif', eTag: 5 } },
        },
        'record 0 has a non-string s3.object.eTag',
      ],
      [
        'a bad percent escape',
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'c/100%.tif' } },
        },
        'the object key "c/100%.tif" has an invalid percent escape',
      ],
    ])('reports a record with %s', (_name, record, problem) => {
      // Act
      const entries = parseBatch(sqsEvent(sqsMessage({ Records: [record] }, 'bad-1')));

      // Assert
      expect(entries[0].error).toBeInstanceOf(InvalidEventError);
      expect(entries[0].error?.message).toContain(`Invalid event message bad-1: ${problem}`);
      expect(entries[0].objects).toEqual([]);
    });

    it('keeps other messages when one is invalid', () => {
      // Arrange
      const event = sqsEvent(
        sqsMessage('{', 'broken'),
        sqsMessage([s3Record({ key: 'c/a.tif' })], 'good'),
      );

      // Act
      const entries = parseBatch(event);

      // Assert
      expect(entries[0].error).toBeInstanceOf(InvalidEventError);
      expect(entries[1].error).toBeUndefined();
      expect(entries[1].objects.map((object) => object.key)).toEqual(['c/a.tif']);
    });

    it('returns one entry per record of a plain S3 event', () => {
      // Arrange
      const event = s3Event(s3Record({ key: 'c/a.tif' }), s3Record({ key: 'c/folder/' }));

      // Act
      const entries = parseBatch(event);

      // Assert
      expect(entries).toEqual([
        {
          messageId: 's3-record-0',
          objects: [
            {
              bucket: 'ingest-bucket',
              key: 'c/a.tif',
              size: 1024,
              eTag: 'd41d8cd98f00b204e9800998ecf8427e',
              sequencer: '0062E0B3A7C5F8E3A1',
            },
          ],
          skipped: [],
        },
        {
          messageId: 's3-record-1',
          objects: [],
          skipped: [
            {
              reason: 'folder-marker',
              detail: 's3://ingest-bucket/c/folder/',
              bucket: 'ingest-bucket',
              key: 'c/folder/',
            },
          ],
        },
      ]);
    });

    it('reports an invalid record of a plain S3 event', () => {
      // Arrange
      const event = { Records: [{ eventSource: 'aws:s3' }] } as unknown as SQSEvent;

      // Act
      const entries = parseBatch(event);

      // Assert
      expect(entries[0].messageId).toBe('s3-record-0');
      expect(entries[0].error).toBeInstanceOf(InvalidEventError);
    });

    it('rejects an event without Records', () => {
      // Arrange
      const event = { detail: {} } as unknown as SQSEvent;

      // Act
      const act = () => parseBatch(event);

      // Assert
      expect(act).toThrow(InvalidEventError);
      expect(act).toThrow(
        'Invalid Lambda event: expected an SQS or S3 event with a "Records" array.',
      );
    });
  });
});
