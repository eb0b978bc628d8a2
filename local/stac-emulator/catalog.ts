import { rm } from 'node:fs/promises';
import { DATA_PATH_PREFIX, type EmulatorContext, parentUrl } from './context';
import { ApiError, validationError } from './http';
import type { AssetParent, StoredAsset, StoredCollection, StoredItem, StoredUpload } from './store';
import { validateAssetOptionalFields, validateId, validateMediaType } from './validation';

/** STAC version that the emulator reports, as service-stac v1 does. */
const STAC_VERSION = '1.0.0';

/** Link relations that the server generates and that a request body cannot set. */
const GENERATED_RELS = new Set(['self', 'root', 'parent', 'items', 'collection', 'item']);

/** Fields that the server generates or computes; they are ignored in request bodies. */
const GENERATED_FIELDS = [
  'created',
  'updated',
  'stac_version',
  'type',
  'links',
  'assets',
  'bbox',
  'crs',
  'itemType',
  'summaries',
  'collection',
];

/** A handler's JSON result: status, body and extra headers. */
export interface JsonResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function userLinks(body: Record<string, unknown>): unknown[] {
  const links = Array.isArray(body.links) ? body.links : [];
  return links.filter(
    (link) =>
      link !== null &&
      typeof link === 'object' &&
      !GENERATED_RELS.has(String((link as { rel?: unknown }).rel)),
  );
}

function withoutGeneratedFields(body: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...body };
  for (const field of GENERATED_FIELDS) {
    delete copy[field];
  }
  copy.links = userLinks(body);
  return copy;
}

function checkBodyId(body: Record<string, unknown>, pathId: string): void {
  // NOTE: service-stac renames an item or asset when the body id differs from the path id;
  // the emulator rejects the request instead.
  if (body.id !== undefined && body.id !== pathId) {
    throw validationError(
      'id',
      `The id in the body (${String(body.id)}) differs from the id in the path (${pathId}).`,
    );
  }
}

/** Renders an asset as the API returns it, with `links` when `withLinks` is set. */
export function renderAsset(
  context: EmulatorContext,
  parent: AssetParent,
  asset: StoredAsset,
  withLinks = true,
): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    id: asset.id,
    type: asset.type,
    ...asset.fields,
  };
  if (asset.href !== undefined) {
    rendered.href = asset.href;
  }
  if (asset.checksum !== undefined) {
    rendered['file:checksum'] = asset.checksum;
  }
  rendered.created = asset.created;
  rendered.updated = asset.updated;
  if (withLinks) {
    const parentHref = parentUrl(context, parent);
    rendered.links = [
      { rel: 'self', href: `${parentHref}/assets/${asset.id}` },
      { rel: 'root', href: `${context.apiUrl}/` },
      { rel: 'parent', href: `${parentHref}/assets` },
      ...(parent.item === undefined ? [] : [{ rel: 'item', href: parentHref }]),
      { rel: 'collection', href: `${context.apiUrl}/collections/${parent.collection}` },
    ];
  }
  return rendered;
}

function renderAssetMap(
  context: EmulatorContext,
  parent: AssetParent,
  assets: Map<string, StoredAsset>,
): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (const asset of assets.values()) {
    const { id: _id, ...rest } = renderAsset(context, parent, asset, false);
    map[asset.id] = rest;
  }
  return map;
}

const DEFAULT_EXTENT = {
  spatial: { bbox: [[5.96, 45.82, 10.49, 47.81]] },
  temporal: { interval: [[null, null]] },
};

/** Renders a collection as the API returns it. */
export function renderCollection(
  context: EmulatorContext,
  collection: StoredCollection,
): Record<string, unknown> {
  const self = `${context.apiUrl}/collections/${collection.id}`;
  const { links: _links, ...body } = collection.body;
  return {
    stac_version: STAC_VERSION,
    type: 'Collection',
    itemType: 'Feature',
    crs: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84'],
    ...body,
    id: collection.id,
    extent: body.extent ?? DEFAULT_EXTENT,
    created: collection.created,
    updated: collection.updated,
    assets: renderAssetMap(context, { collection: collection.id }, collection.assets),
    links: [
      { rel: 'self', href: self },
      { rel: 'root', href: `${context.apiUrl}/` },
      { rel: 'parent', href: `${context.apiUrl}/` },
      { rel: 'items', href: `${self}/items` },
      ...userLinks(collection.body),
    ],
  };
}

/** Computes a GeoJSON geometry's bounding box from all of its coordinates. */
function boundingBox(geometry: Record<string, unknown>): number[] {
  const bounds = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (value: unknown): void => {
    if (Array.isArray(value) && typeof value[0] === 'number') {
      bounds[0] = Math.min(bounds[0], value[0]);
      bounds[1] = Math.min(bounds[1], value[1] as number);
      bounds[2] = Math.max(bounds[2], value[0]);
      bounds[3] = Math.max(bounds[3], value[1] as number);
    } else if (Array.isArray(value)) {
      value.forEach(visit);
    }
  };
  visit(geometry.coordinates);
  return bounds;
}

/** Renders an item as the API returns it. */
export function renderItem(context: EmulatorContext, item: StoredItem): Record<string, unknown> {
  const collectionUrl = `${context.apiUrl}/collections/${item.collection}`;
  const { links: _links, properties, geometry, ...body } = item.body;
  return {
    stac_version: STAC_VERSION,
    ...body,
    type: 'Feature',
    id: item.id,
    collection: item.collection,
    bbox: boundingBox(geometry as Record<string, unknown>),
    geometry,
    properties: {
      ...(properties as Record<string, unknown>),
      created: item.created,
      updated: item.updated,
    },
    assets: renderAssetMap(context, { collection: item.collection, item: item.id }, item.assets),
    links: [
      { rel: 'self', href: `${collectionUrl}/items/${item.id}` },
      { rel: 'root', href: `${context.apiUrl}/` },
      { rel: 'parent', href: collectionUrl },
      { rel: 'collection', href: collectionUrl },
      ...userLinks(item.body),
    ],
  };
}

/** Validates a collection body and returns the fields to store. */
export function validateCollectionBody(
  collectionId: string,
  body: Record<string, unknown>,
): Record<string, unknown> {
  validateId('id', collectionId);
  checkBodyId(body, collectionId);
  for (const field of ['description', 'license']) {
    if (typeof body[field] !== 'string' || body[field] === '') {
      throw validationError(field, 'This field is required and must be a non-empty string.');
    }
  }
  if (body.title !== undefined && typeof body.title !== 'string') {
    throw validationError('title', 'Must be a string.');
  }
  const stored = withoutGeneratedFields(body);
  delete stored.id;
  // The API computes the extent from the items; a seed file may still give one.
  if (body.extent !== undefined) {
    stored.extent = body.extent;
  }
  return stored;
}

/** Validates an item body and returns the fields to store. */
export function validateItemBody(
  itemId: string,
  body: Record<string, unknown>,
): Record<string, unknown> {
  validateId('id', itemId);
  checkBodyId(body, itemId);

  const geometry = body.geometry as Record<string, unknown> | undefined;
  if (
    geometry === null ||
    typeof geometry !== 'object' ||
    typeof geometry.type !== 'string' ||
    !Array.isArray(geometry.coordinates)
  ) {
    throw validationError('geometry', 'This field is required and must be a GeoJSON geometry.');
  }

  const properties = body.properties as Record<string, unknown> | undefined;
  if (properties === null || typeof properties !== 'object') {
    throw validationError('properties', 'This field is required and must be an object.');
  }
  const hasDatetime = typeof properties.datetime === 'string';
  const hasRange =
    typeof properties.start_datetime === 'string' && typeof properties.end_datetime === 'string';
  if (hasDatetime === hasRange) {
    throw validationError(
      'properties',
      'Give either properties.datetime or both properties.start_datetime and properties.end_datetime.',
    );
  }
  for (const field of ['datetime', 'start_datetime', 'end_datetime']) {
    const value = properties[field];
    if (value !== undefined && value !== null && Number.isNaN(Date.parse(String(value)))) {
      throw validationError(`properties.${field}`, `Invalid datetime string ${String(value)}`);
    }
  }

  const stored = withoutGeneratedFields(body);
  delete stored.id;
  const { created: _created, updated: _updated, ...userProperties } = properties;
  stored.properties = userProperties;
  return stored;
}

/** Handles `PUT /collections/{c}`: creates (201) or replaces (200) a collection. */
export function putCollection(
  context: EmulatorContext,
  collectionId: string,
  body: Record<string, unknown>,
): JsonResult {
  const stored = validateCollectionBody(collectionId, body);
  const now = context.now().toISOString();
  const existing = context.store.collections.get(collectionId);
  if (existing) {
    existing.body = stored;
    existing.updated = now;
    return { status: 200, body: renderCollection(context, existing) };
  }
  const collection: StoredCollection = {
    id: collectionId,
    body: stored,
    created: now,
    updated: now,
    items: new Map(),
    assets: new Map(),
  };
  context.store.collections.set(collectionId, collection);
  const rendered = renderCollection(context, collection);
  return {
    status: 201,
    body: rendered,
    headers: { Location: `${context.apiUrl}/collections/${collectionId}` },
  };
}

/** Handles `PUT /collections/{c}/items/{i}`: creates (201) or replaces (200) an item. */
export function putItem(
  context: EmulatorContext,
  collectionId: string,
  itemId: string,
  body: Record<string, unknown>,
): JsonResult {
  const collection = context.store.getCollection(collectionId);
  const stored = validateItemBody(itemId, body);
  const now = context.now().toISOString();
  const existing = collection.items.get(itemId);
  if (existing) {
    existing.body = stored;
    existing.updated = now;
    return { status: 200, body: renderItem(context, existing) };
  }
  const item: StoredItem = {
    id: itemId,
    collection: collectionId,
    body: stored,
    created: now,
    updated: now,
    assets: new Map(),
  };
  collection.items.set(itemId, item);
  return {
    status: 201,
    body: renderItem(context, item),
    headers: { Location: `${context.apiUrl}/collections/${collectionId}/items/${itemId}` },
  };
}

/** Handles `DELETE /collections/{c}/items/{i}`, which the API allows only once the item has no assets. */
export function deleteItem(
  context: EmulatorContext,
  collectionId: string,
  itemId: string,
): JsonResult {
  const item = context.store.getItem(collectionId, itemId);
  if (item.assets.size > 0) {
    throw new ApiError(
      400,
      'Deleting an item that still has assets is not allowed; delete its assets first.',
    );
  }
  context.store.getCollection(collectionId).items.delete(itemId);
  return deletedResult(`${context.apiUrl}/collections/${collectionId}`);
}

function deletedResult(parentHref: string): JsonResult {
  return {
    status: 200,
    body: {
      code: 200,
      description: 'Resource successfully deleted',
      links: [{ rel: 'parent', href: parentHref }],
    },
  };
}

function applyOptionalFields(asset: StoredAsset, body: Record<string, unknown>): void {
  const fields = validateAssetOptionalFields(body);
  for (const [field, value] of Object.entries(fields)) {
    if (value === null) {
      delete asset.fields[field];
    } else {
      asset.fields[field] = value;
    }
  }
}

/**
 * Handles `PUT .../assets/{a}`: creates (201) or updates (200) an asset. `href` is rejected
 * because the emulator's collections do not allow external assets, `file:checksum` is
 * read-only and ignored, optional fields absent from the body are kept and `null` removes one.
 */
export function putAsset(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  body: Record<string, unknown>,
): JsonResult {
  const assets = context.store.getAssetMap(parent);
  validateId('id', assetId);
  checkBodyId(body, assetId);
  if (body.href !== undefined && body.href !== null) {
    throw validationError('href', 'External assets are not allowed in this collection.');
  }
  const mediaType = validateMediaType(assetId, body.type);

  const now = context.now().toISOString();
  const existing = assets.get(assetId);
  if (existing && existing.type !== mediaType) {
    throw validationError(
      'type',
      `The media type of an existing asset cannot be changed (${existing.type}); delete the asset and create it again.`,
    );
  }
  const asset: StoredAsset = existing ?? {
    id: assetId,
    type: mediaType,
    fields: {},
    created: now,
    updated: now,
  };
  // Validates every field before changing any, so a rejected body leaves the asset as it was.
  // NOTE: optional fields left out of a PUT body are kept, and null removes one. Whether
  // service-stac's PUT keeps or clears omitted fields is not confirmed.
  applyOptionalFields(asset, body);
  asset.updated = now;

  if (existing) {
    return { status: 200, body: renderAsset(context, parent, asset) };
  }
  assets.set(assetId, asset);
  return {
    status: 201,
    body: renderAsset(context, parent, asset),
    headers: { Location: `${parentUrl(context, parent)}/assets/${assetId}` },
  };
}

/** Handles `PATCH .../assets/{a}`: updates the fields given; `href` and `file:checksum` are ignored. */
export function patchAsset(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  body: Record<string, unknown>,
): JsonResult {
  const asset = context.store.getAsset(parent, assetId);
  checkBodyId(body, assetId);
  if (body.type !== undefined) {
    const mediaType = validateMediaType(assetId, body.type);
    if (mediaType !== asset.type) {
      throw validationError(
        'type',
        `The media type of an existing asset cannot be changed (${asset.type}); delete the asset and create it again.`,
      );
    }
  }
  applyOptionalFields(asset, body);
  asset.updated = context.now().toISOString();
  return { status: 200, body: renderAsset(context, parent, asset) };
}

/** Deletes the part files of an upload. */
export async function removeUploadParts(upload: StoredUpload): Promise<void> {
  await Promise.all([...upload.parts.values()].map((part) => rm(part.path, { force: true })));
  upload.parts.clear();
}

/** Handles `DELETE .../assets/{a}`: removes the asset, its file and its uploads. */
export async function deleteAsset(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
): Promise<JsonResult> {
  const asset = context.store.getAsset(parent, assetId);
  context.store.getAssetMap(parent).delete(assetId);
  for (const upload of context.store.uploadsOf(parent, assetId)) {
    await removeUploadParts(upload);
    context.store.uploads.delete(upload.uploadId);
  }
  if (asset.filePath !== undefined) {
    await rm(asset.filePath, { force: true });
  }
  return deletedResult(`${parentUrl(context, parent)}/assets`);
}

/** Returns the path under {@link DATA_PATH_PREFIX} at which an asset's file is served. */
export function assetFileUrlPath(parent: AssetParent, assetId: string): string {
  const segments = [parent.collection, parent.item, assetId].filter(
    (segment) => segment !== undefined,
  );
  return `${DATA_PATH_PREFIX}${segments.join('/')}`;
}
