import { readFileSync } from 'node:fs';
import { notFound } from './http';

/** Collection and items loaded at start-up. Each item names its collection in `collection`. */
export interface SeedData {
  collections: Record<string, unknown>[];
  items?: Record<string, unknown>[];
}

/** The collection, and for an item asset the item, that an asset belongs to. */
export interface AssetParent {
  readonly collection: string;
  readonly item?: string;
}

/** An asset as the emulator stores it. */
export interface StoredAsset {
  readonly id: string;
  /** Normalized media type, fixed once the asset exists. */
  readonly type: string;
  /** Optional metadata fields such as `title` or `proj:epsg`. */
  fields: Record<string, unknown>;
  /** sha2-256 multihash of the stored file, set when an upload completes. */
  checksum?: string;
  href?: string;
  /** Path of the stored file in the data directory. */
  filePath?: string;
  fileSize?: number;
  /** ETag of the stored file, computed as S3 does for a multipart object. */
  etag?: string;
  contentEncoding?: string;
  readonly created: string;
  updated: string;
}

/** One uploaded part of a multipart upload. */
export interface StoredPart {
  /** Quoted hex MD5 of the part, as S3 returns it. */
  readonly etag: string;
  readonly size: number;
  readonly modified: string;
  readonly path: string;
}

/** Status of a multipart upload. */
export type UploadStatus = 'in-progress' | 'completed' | 'aborted';

/** A multipart upload as the emulator stores it. */
export interface StoredUpload {
  readonly uploadId: string;
  readonly parent: AssetParent;
  readonly assetId: string;
  status: UploadStatus;
  readonly numberParts: number;
  /** Base64 MD5 of each part, indexed by part number minus one. */
  readonly md5Parts: string[];
  readonly checksum: string;
  readonly contentEncoding?: string;
  created: string;
  completed?: string;
  aborted?: string;
  readonly urls: { url: string; part: number; expires: string }[];
  readonly parts: Map<number, StoredPart>;
}

/** An item with its assets. `body` contains the item fields other than the generated ones. */
export interface StoredItem {
  readonly id: string;
  readonly collection: string;
  body: Record<string, unknown>;
  readonly created: string;
  updated: string;
  readonly assets: Map<string, StoredAsset>;
}

/** A collection with its items and collection assets. */
export interface StoredCollection {
  readonly id: string;
  body: Record<string, unknown>;
  readonly created: string;
  updated: string;
  readonly items: Map<string, StoredItem>;
  readonly assets: Map<string, StoredAsset>;
}

/** Returns the asset's key in the upload and file maps: `collection/item/asset`, item empty for a collection asset. */
export function assetKey(parent: AssetParent, assetId: string): string {
  return `${parent.collection}/${parent.item ?? ''}/${assetId}`;
}

/** In-memory catalogue state: collections, items, assets and uploads. */
export class CatalogStore {
  readonly collections = new Map<string, StoredCollection>();
  /** Uploads by upload id. */
  readonly uploads = new Map<string, StoredUpload>();

  /** Returns the collection or throws a 404. */
  getCollection(collectionId: string): StoredCollection {
    const collection = this.collections.get(collectionId);
    if (!collection) {
      throw notFound(`Collection ${collectionId}`);
    }
    return collection;
  }

  /** Returns the item or throws a 404 naming the missing collection or item. */
  getItem(collectionId: string, itemId: string): StoredItem {
    const item = this.getCollection(collectionId).items.get(itemId);
    if (!item) {
      throw notFound(`Item ${itemId} in collection ${collectionId}`);
    }
    return item;
  }

  /** Returns the asset map of the parent, or throws a 404 when the parent is missing. */
  getAssetMap(parent: AssetParent): Map<string, StoredAsset> {
    return parent.item === undefined
      ? this.getCollection(parent.collection).assets
      : this.getItem(parent.collection, parent.item).assets;
  }

  /** Returns the asset or throws a 404. */
  getAsset(parent: AssetParent, assetId: string): StoredAsset {
    const asset = this.getAssetMap(parent).get(assetId);
    if (!asset) {
      throw notFound(`Asset ${assetId}`);
    }
    return asset;
  }

  /** Returns the asset's uploads, newest first. */
  uploadsOf(parent: AssetParent, assetId: string): StoredUpload[] {
    const key = assetKey(parent, assetId);
    return [...this.uploads.values()]
      .filter((upload) => assetKey(upload.parent, upload.assetId) === key)
      .sort((a, b) => b.created.localeCompare(a.created));
  }

  /** Returns the upload of this asset or throws a 404. */
  getUpload(parent: AssetParent, assetId: string, uploadId: string): StoredUpload {
    const upload = this.uploads.get(uploadId);
    if (!upload || assetKey(upload.parent, upload.assetId) !== assetKey(parent, assetId)) {
      throw notFound(`Upload ${uploadId}`);
    }
    return upload;
  }
}

/** Reads seed data from a JSON file, or returns the object given. */
export function loadSeed(seed: string | SeedData): SeedData {
  if (typeof seed !== 'string') {
    return seed;
  }
  const parsed = JSON.parse(readFileSync(seed, 'utf8')) as SeedData;
  if (!Array.isArray(parsed.collections)) {
    throw new Error(`Invalid seed file ${seed}: "collections" must be a list`);
  }
  return parsed;
}
