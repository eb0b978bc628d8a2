/** An S3 object named by an event record, before it is read. */
export interface ObjectRef {
  readonly bucket: string;
  /** Object key, already URL-decoded. */
  readonly key: string;
  /** Size in bytes as reported by the event, if it carried one. */
  readonly size?: number;
  readonly eTag?: string;
  readonly versionId?: string;
  /** S3 event sequencer, which orders events for the same key. */
  readonly sequencer?: string;
}

/** Asset an object is registered as: a collection asset when `item` is absent. */
export interface AssetTarget {
  readonly collection: string;
  readonly item?: string;
  readonly asset: string;
}

/** Languages accepted for `geoadmin:lang`. */
export const GEOADMIN_LANGS = ['de', 'fr', 'it', 'rm', 'en'] as const;
export type GeoadminLang = (typeof GEOADMIN_LANGS)[number];

/** Asset body of `PUT .../assets/{assetId}` (`file:checksum` and `href` are read-only there). */
export interface AssetMetadata {
  id: string;
  type: string;
  title?: string;
  description?: string;
  roles?: string[];
  'proj:epsg'?: number;
  gsd?: number;
  'geoadmin:variant'?: string;
  'geoadmin:lang'?: GeoadminLang;
}

/** One part of a multipart upload: bytes `start` (inclusive) to `end` (exclusive). */
export interface PartRange {
  readonly partNumber: number;
  readonly start: number;
  readonly end: number;
}

/** Base64 MD5 of one part, as the API expects it in `md5_parts`. */
export interface PartMd5 {
  readonly part_number: number;
  readonly md5: string;
}

/** Digests of a whole object, computed in one streaming pass. */
export interface ObjectDigests {
  /** sha2-256 multihash in lowercase hex: `1220` followed by 64 hex digits. */
  readonly checksum: string;
  readonly md5Parts: PartMd5[];
  /** Bytes hashed, which must equal the object's size. */
  readonly size: number;
}
