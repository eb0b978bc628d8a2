import { ConfigurationError, FileTooLargeError } from '../../lambdas/ingest/errors';
import {
  assertValidPartPlan,
  DEFAULT_PART_SIZE_BYTES,
  GIB_BYTES,
  InvalidPartPlanError,
  MAX_OBJECT_SIZE_BYTES,
  MAX_PART_SIZE_BYTES,
  MAX_PARTS,
  MIB_BYTES,
  MIN_PART_SIZE_BYTES,
  planParts,
} from '../../lambdas/ingest/part-plan';
import type { PartRange } from '../../lambdas/ingest/types';

const SIZES = [
  0,
  1,
  MIN_PART_SIZE_BYTES - 1,
  MIN_PART_SIZE_BYTES,
  MIN_PART_SIZE_BYTES + 1,
  DEFAULT_PART_SIZE_BYTES - 1,
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_PART_SIZE_BYTES + 1,
  2 * DEFAULT_PART_SIZE_BYTES + 12_345,
  100 * DEFAULT_PART_SIZE_BYTES,
  100 * DEFAULT_PART_SIZE_BYTES + 1,
  Math.round(6.4 * GIB_BYTES),
  Math.round(6.4 * GIB_BYTES) + 7,
  500 * GIB_BYTES - 1,
  MAX_OBJECT_SIZE_BYTES - 1,
  MAX_OBJECT_SIZE_BYTES,
];

const PART_SIZES = [
  MIN_PART_SIZE_BYTES,
  8 * MIB_BYTES,
  DEFAULT_PART_SIZE_BYTES,
  MAX_PART_SIZE_BYTES,
];

describe('part-plan', () => {
  describe('planParts', () => {
    describe.each(PART_SIZES)('with part size %d', (partSizeBytes) => {
      it.each(SIZES)('plans %d bytes within the limits', (size) => {
        // Act
        const parts = planParts(size, { partSizeBytes });

        // Assert
        expect(parts.length).toBeGreaterThanOrEqual(1);
        expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
        expect(parts[0].start).toBe(0);
        expect(parts[parts.length - 1].end).toBe(size);
        parts.forEach((part, index) => {
          expect(part.partNumber).toBe(index + 1);
          expect(part.end - part.start).toBeLessThanOrEqual(MAX_PART_SIZE_BYTES);
          if (index > 0) {
            expect(part.start).toBe(parts[index - 1].end);
          }
          if (index < parts.length - 1) {
            expect(part.end - part.start).toBeGreaterThanOrEqual(MIN_PART_SIZE_BYTES);
            expect(part.end - part.start).toBeGreaterThanOrEqual(partSizeBytes);
          }
          if (size > 0) {
            expect(part.end).toBeGreaterThan(part.start);
          }
        });
        expect(() => assertValidPartPlan(parts, size)).not.toThrow();
      });
    });

    it('returns one empty part when the size is 0', () => {
      // Act
      const parts = planParts(0);

      // Assert
      expect(parts).toEqual([{ partNumber: 1, start: 0, end: 0 }]);
    });

    it('returns one part up to the default part size', () => {
      // Act
      const parts = planParts(DEFAULT_PART_SIZE_BYTES);

      // Assert
      expect(parts).toEqual([{ partNumber: 1, start: 0, end: DEFAULT_PART_SIZE_BYTES }]);
    });

    it('splits one byte past the default part size', () => {
      // Act
      const parts = planParts(DEFAULT_PART_SIZE_BYTES + 1);

      // Assert
      expect(parts).toEqual([
        { partNumber: 1, start: 0, end: DEFAULT_PART_SIZE_BYTES },
        { partNumber: 2, start: DEFAULT_PART_SIZE_BYTES, end: DEFAULT_PART_SIZE_BYTES + 1 },
      ]);
    });

    it('keeps the part size when 100 parts suffice', () => {
      // Act
      const parts = planParts(100 * DEFAULT_PART_SIZE_BYTES);

      // Assert
      expect(parts).toHaveLength(100);
      expect(parts[0].end).toBe(DEFAULT_PART_SIZE_BYTES);
    });

    it('raises the part size to a whole MiB when over 100 parts', () => {
      // Arrange
      const size = Math.round(6.4 * GIB_BYTES);
      // 6.4 GiB / 100 = 65.536 MiB, rounded up to 66 MiB.
      const expectedPartSize = 66 * MIB_BYTES;

      // Act
      const parts = planParts(size);

      // Assert
      expect(parts[0].end).toBe(expectedPartSize);
      expect(parts).toHaveLength(Math.ceil(size / expectedPartSize));
      expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
    });

    it('uses 100 parts of 5 GiB at the maximum size', () => {
      // Act
      const parts = planParts(MAX_OBJECT_SIZE_BYTES);

      // Assert
      expect(parts).toHaveLength(100);
      expect(parts.every((part) => part.end - part.start === MAX_PART_SIZE_BYTES)).toBe(true);
    });

    it('names size and limit when the object is too large', () => {
      // Act
      const act = () => planParts(MAX_OBJECT_SIZE_BYTES + 1);

      // Assert
      expect(act).toThrow(FileTooLargeError);
      expect(act).toThrow(
        "The object is 536870912001 bytes, larger than the STAC API's limit of 536870912000 " +
          'bytes (100 parts of 5 GiB). Split the data into smaller files.',
      );
    });

    it.each([
      MIN_PART_SIZE_BYTES - 1,
      MAX_PART_SIZE_BYTES + 1,
      0,
      1.5 * MIB_BYTES * 10 + 0.5,
      Number.NaN,
    ])('rejects part size %d', (partSizeBytes) => {
      // Act
      const act = () => planParts(1, { partSizeBytes });

      // Assert
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(
        `Invalid part size ${partSizeBytes} bytes: it must be a whole number of bytes from ` +
          '5242880 (5 MiB) to 5368709120 (5 GiB).',
      );
    });

    it.each([-1, 1.5, Number.NaN])('rejects object size %d', (size) => {
      // Act
      const act = () => planParts(size);

      // Assert
      expect(act).toThrow(RangeError);
    });
  });

  describe('assertValidPartPlan', () => {
    const mib = MIB_BYTES;

    it('accepts a valid plan', () => {
      // Arrange
      const parts: PartRange[] = [
        { partNumber: 1, start: 0, end: 5 * mib },
        { partNumber: 2, start: 5 * mib, end: 6 * mib },
      ];

      // Act
      const act = () => assertValidPartPlan(parts, 6 * mib);

      // Assert
      expect(act).not.toThrow();
    });

    it.each<[string, PartRange[], number, string]>([
      ['no parts', [], 10, 'the plan has no parts'],
      [
        'a small middle part',
        [
          { partNumber: 1, start: 0, end: mib },
          { partNumber: 2, start: mib, end: 2 * mib },
        ],
        2 * mib,
        'part 1 has 1048576 bytes, less than 5242880, and is not the last part',
      ],
      [
        'a gap',
        [
          { partNumber: 1, start: 0, end: 5 * mib },
          { partNumber: 2, start: 5 * mib + 1, end: 6 * mib },
        ],
        6 * mib,
        'part 2 starts at 5242881, expected 5242880',
      ],
      ['a wrong number', [{ partNumber: 2, start: 0, end: 10 }], 10, 'part 1 has part number 2'],
      [
        'a short plan',
        [{ partNumber: 1, start: 0, end: 10 }],
        11,
        'the last part ends at 10, but the object has 11 bytes',
      ],
      [
        'an empty part',
        [
          { partNumber: 1, start: 0, end: 10 },
          { partNumber: 2, start: 10, end: 10 },
        ],
        10,
        'part 2 is empty or reversed (10 to 10)',
      ],
      [
        'an oversized part',
        [{ partNumber: 1, start: 0, end: MAX_PART_SIZE_BYTES + 1 }],
        MAX_PART_SIZE_BYTES + 1,
        'part 1 has 5368709121 bytes, more than 5368709120',
      ],
      [
        'too many parts',
        Array.from({ length: 101 }, (_, index) => ({
          partNumber: index + 1,
          start: index * 5 * mib,
          end: (index + 1) * 5 * mib,
        })),
        101 * 5 * mib,
        'the plan has 101 parts, more than 100',
      ],
    ])('rejects %s', (_name, parts, size, problem) => {
      // Act
      const act = () => assertValidPartPlan(parts, size);

      // Assert
      expect(act).toThrow(InvalidPartPlanError);
      expect(act).toThrow(problem);
    });

    it('lists every problem in one message', () => {
      // Arrange
      const parts: PartRange[] = [
        { partNumber: 1, start: 0, end: 1 },
        { partNumber: 3, start: 2, end: 3 },
      ];

      // Act
      const act = () => assertValidPartPlan(parts, 4);

      // Assert
      expect(act).toThrow(
        'Invalid part plan for 4 bytes: part 1 has 1 bytes, less than 5242880, and is not the ' +
          'last part; part 2 has part number 3; part 3 starts at 2, expected 1; the last part ' +
          'ends at 3, but the object has 4 bytes.',
      );
    });
  });
});
