import type { Readable } from 'node:stream';
import { IngestError, InvalidInputError } from './errors';
import {
  type CreateUploadRequest,
  StacApiError,
  type StacAsset,
  type StacClient,
  type StacUpload,
} from './stac-client';
import type { AssetMetadata, AssetTarget, ObjectDigests, PartRange } from './types';

/** Default number of parts sent at the same time. */
const DEFAULT_PART_CONCURRENCY = 4;

/**
 * Default age in seconds from which an upload in progress is stale: the longest Lambda
 * timeout (15 minutes) plus one minute, so no running invocation can still be using it.
 */
export const DEFAULT_STALE_UPLOAD_AGE_SECS = 960;

/**
 * The asset has an upload in progress that another invocation may still be using. The
 * record is retried later, when that upload has ended or become stale.
 */
export class UploadInProgressError extends IngestError {
  readonly retryable = true;
}

/** The asset's item or collection does not exist in the STAC API. */
export class MissingParentError extends InvalidInputError {}

/** The upload completed, but the asset read back has another checksum. */
export class ChecksumMismatchError extends IngestError {
  readonly retryable = true;
}

/** Outcome of {@link registerAsset}. */
export interface RegisterResult {
  /** `unchanged`: the asset already had this checksum, so no upload was made. */
  readonly outcome: 'uploaded' | 'unchanged';
  readonly uploadId?: string;
  readonly assetCreated: boolean;
  readonly metadataUpdated: boolean;
  readonly href?: string;
}

/** Inputs of {@link registerAsset}. */
export interface RegisterRequest {
  readonly stac: StacClient;
  readonly target: AssetTarget;
  readonly metadata: AssetMetadata;
  readonly digests: ObjectDigests;
  readonly parts: PartRange[];
  /** Opens a fresh stream of one part's bytes; called again when a part is retried. */
  readonly openPart: (part: PartRange) => Promise<Readable>;
  /** Parts sent at the same time. @default 4 */
  readonly partConcurrency?: number;
  /** Called when the upload was created, so the caller can log its id. */
  readonly onUploadCreated?: (uploadId: string) => void;
  /**
   * Called after the parts were sent and before the upload is completed. An error it raises
   * aborts the upload, which lets the caller check that the source did not change.
   */
  readonly beforeComplete?: () => Promise<void>;
  /** Called when aborting our own upload failed; the error is not rethrown. */
  readonly onAbortFailed?: (uploadId: string, error: unknown) => void;
  /** Called when our own upload was aborted after a failure. */
  readonly onUploadAborted?: (uploadId: string, error: unknown) => void;
  /** Called when the asset this call created was deleted after its upload failed. */
  readonly onCreatedAssetRemoved?: () => void;
  /** Called when deleting that asset failed; the error is not rethrown. */
  readonly onCreatedAssetRemovalFailed?: (error: unknown) => void;
  /** Called when a stale upload of another invocation was aborted. */
  readonly onStaleUploadAborted?: (upload: StacUpload, ageSecs: number) => void;
  /** Called when the presigned URLs expired and the upload starts again. */
  readonly onUrlsExpired?: (uploadId: string) => void;
  /** Content-Encoding of the stored bytes, sent as the upload's `content_encoding`. */
  readonly contentEncoding?: 'gzip' | 'br';
  /** Age in seconds from which an upload in progress is aborted as stale. @default 960 */
  readonly staleUploadAgeSecs?: number;
  /** Clock in milliseconds, to compute the age of uploads. @default Date.now */
  readonly now?: () => number;
}

const METADATA_FIELDS = [
  'title',
  'description',
  'roles',
  'proj:epsg',
  'gsd',
  'geoadmin:variant',
  'geoadmin:lang',
] as const;

/** True when every metadata field we would send already has that value. */
function metadataMatches(existing: StacAsset, metadata: AssetMetadata): boolean {
  return METADATA_FIELDS.every(
    (field) =>
      metadata[field] === undefined ||
      JSON.stringify(existing[field]) === JSON.stringify(metadata[field]),
  );
}

/**
 * Registers a file as a STAC asset. It puts the asset metadata unless the
 * existing asset already has it, then creates a multipart upload with the MD5
 * of each part and the file's multihash and sends the parts. It completes the
 * upload and reads the asset back to check its checksum. An asset that already
 * has the file's checksum gets no new upload. Any failure after the upload was
 * created aborts it.
 */
export async function registerAsset(request: RegisterRequest): Promise<RegisterResult> {
  const { stac, target, metadata, digests } = request;
  const existing = await stac.getAsset(target);

  if (existing !== undefined && existing.type !== metadata.type) {
    throw new InvalidInputError(
      `Asset ${stac.assetPath(target)} exists with media type "${existing.type}", but the file has media type "${metadata.type}": the API cannot change an asset's media type, so delete the asset first or set the object's media-type metadata to "${existing.type}".`,
    );
  }

  const sameChecksum =
    existing?.['file:checksum']?.toLowerCase() === digests.checksum.toLowerCase();
  if (existing !== undefined && sameChecksum && (await sameEncoding(request))) {
    const metadataUpdated = !metadataMatches(existing, metadata);
    if (metadataUpdated) await stac.putAsset(target, metadata);
    return { outcome: 'unchanged', assetCreated: false, metadataUpdated, href: existing.href };
  }

  // An existing asset whose metadata already matches needs no PUT before its new file.
  const metadataUpdated = existing === undefined || !metadataMatches(existing, metadata);
  const assetCreated = metadataUpdated ? await putAssetMetadata(request) : false;
  let uploadId: string;
  try {
    uploadId = await uploadFile(request);
  } catch (error) {
    // Another invocation's upload in progress owns the asset now, so it stays.
    if (assetCreated && !(error instanceof UploadInProgressError)) {
      await removeCreatedAsset(request);
    }
    throw error;
  }

  const stored = await stac.getAsset(target);
  const storedChecksum = stored?.['file:checksum'];
  if (storedChecksum?.toLowerCase() !== digests.checksum.toLowerCase()) {
    throw new ChecksumMismatchError(
      `Asset ${stac.assetPath(target)} has file:checksum ${storedChecksum ?? '(none)'} after the upload, expected ${digests.checksum}.`,
    );
  }
  return {
    outcome: 'uploaded',
    uploadId,
    assetCreated,
    metadataUpdated,
    href: stored?.href,
  };
}

/**
 * Returns true when the asset's file was uploaded with the same Content-Encoding as this one.
 * file:checksum covers the decoded data, so the same checksum alone does not tell a gzip
 * file from a plain one. The asset does not show its encoding, but its last completed
 * upload does.
 */
async function sameEncoding(request: RegisterRequest): Promise<boolean> {
  const completed = await request.stac.listUploads(request.target, 'completed');
  if (completed.length === 0) return request.contentEncoding === undefined;
  const latest = completed.reduce((newest, upload) =>
    (upload.completed ?? upload.created) > (newest.completed ?? newest.created) ? upload : newest,
  );
  return (latest.content_encoding ?? undefined) === request.contentEncoding;
}

/**
 * Deletes the asset that this call created when its upload failed, so the catalogue shows no
 * asset without a file. An asset that has a file by now (another invocation completed an
 * upload) is kept. A failed delete is reported, not raised, because the upload error matters.
 */
async function removeCreatedAsset(request: RegisterRequest): Promise<void> {
  const { stac, target } = request;
  try {
    const current = await stac.getAsset(target);
    if (current === undefined || current['file:checksum'] !== undefined) return;
    // An upload in progress means another invocation is giving the asset its file.
    if ((await stac.listUploads(target, 'in-progress')).length > 0) return;
    // NOTE: the API has no conditional delete, so an upload that another invocation creates
    // and completes between these reads and the delete would be lost with the asset.
    await stac.deleteAsset(target);
    request.onCreatedAssetRemoved?.();
  } catch (error) {
    request.onCreatedAssetRemovalFailed?.(error);
  }
}

/** Puts the asset metadata; a 404 means that the item or collection does not exist. */
async function putAssetMetadata(request: RegisterRequest): Promise<boolean> {
  const { stac, target, metadata } = request;
  try {
    return await stac.putAsset(target, metadata);
  } catch (error) {
    if (!(error instanceof StacApiError) || error.status !== 404) throw error;
    // The 404 does not name the missing parent, so one more request distinguishes them.
    const collectionMissing =
      target.item === undefined || !(await stac.collectionExists(target.collection));
    const parent = collectionMissing
      ? `Collection "${target.collection}"`
      : `Item "${target.item}" of collection "${target.collection}"`;
    throw new MissingParentError(
      `${parent} does not exist in the STAC API (PUT ${stac.assetPath(target)} returned 404): create it, then upload the object again or redrive the message from the dead-letter queue.`,
      { cause: error },
    );
  }
}

/**
 * Uploads the file in a new multipart upload and returns its id. Any failure after the
 * upload was created aborts it. When the presigned URLs expired, the upload starts again
 * once with new URLs.
 */
async function uploadFile(request: RegisterRequest): Promise<string> {
  const { stac, target } = request;
  for (let round = 1; ; round += 1) {
    const upload = await createOwnUpload(request);
    request.onUploadCreated?.(upload.upload_id);
    try {
      const etags = await sendParts(request, upload.urls ?? []);
      await request.beforeComplete?.();
      await completeOwnUpload(request, upload.upload_id, etags);
      return upload.upload_id;
    } catch (error) {
      await abortOwnUpload(request, upload.upload_id, error);
      if (isExpiredUrl(error)) {
        if (round === 1) {
          request.onUrlsExpired?.(upload.upload_id);
          continue;
        }
        // Expiry is a matter of time, not of the input, so a later delivery can succeed.
        throw new StacApiError(
          'The presigned part URLs expired again before the parts were sent: the record is retried.',
          403,
          undefined,
          { cause: error, retryable: true },
        );
      }
      throw error;
    }
  }

  async function abortOwnUpload(
    request: RegisterRequest,
    uploadId: string,
    cause: unknown,
  ): Promise<void> {
    try {
      await stac.abortUpload(target, uploadId);
      request.onUploadAborted?.(uploadId, cause);
    } catch (abortError) {
      // 409: the upload is no longer in progress, so there is nothing to abort.
      if (abortError instanceof StacApiError && abortError.status === 409) return;
      request.onAbortFailed?.(uploadId, abortError);
    }
  }
}

/** True for S3's error for a presigned URL past its lifetime: 403 AccessDenied, "Request has expired". */
function isExpiredUrl(error: unknown): boolean {
  return (
    error instanceof StacApiError &&
    error.status === 403 &&
    typeof error.responseBody === 'string' &&
    /^AccessDenied\b.*expired/i.test(error.responseBody)
  );
}

/** True when upload creation failed because the asset has an upload in progress. */
function isUploadInProgress(error: unknown): boolean {
  if (!(error instanceof StacApiError)) return false;
  if (error.status === 409) return true;
  return (
    error.status === 400 &&
    /upload already in progress/i.test(JSON.stringify(error.responseBody ?? ''))
  );
}

/**
 * Creates our upload. When the asset has an upload in progress (409, or 400 "Upload already
 * in progress"), aborts it if it is stale and creates ours once more; an upload younger
 * than the stale age may belong to a running invocation, so it is left alone and
 * {@link UploadInProgressError} is raised.
 */
async function createOwnUpload(request: RegisterRequest): Promise<StacUpload> {
  const { stac, target, digests } = request;
  const body: CreateUploadRequest = {
    number_parts: request.parts.length,
    md5_parts: digests.md5Parts,
    'file:checksum': digests.checksum,
    ...(request.contentEncoding === undefined ? {} : { content_encoding: request.contentEncoding }),
  };
  try {
    return await stac.createUpload(target, body);
  } catch (error) {
    if (!isUploadInProgress(error)) throw error;
  }

  const staleAgeSecs = request.staleUploadAgeSecs ?? DEFAULT_STALE_UPLOAD_AGE_SECS;
  const now = (request.now ?? Date.now)();
  const inProgress = (await stac.listUploads(target, 'in-progress')).map((upload) => ({
    upload,
    // An unreadable creation time gives NaN, which never counts as stale.
    ageSecs: (now - Date.parse(upload.created)) / 1000,
  }));
  const active = inProgress.find(({ ageSecs }) => !(ageSecs >= staleAgeSecs));
  if (active !== undefined) {
    throw new UploadInProgressError(
      `Asset ${stac.assetPath(target)} has upload ${active.upload.upload_id} in progress, created ${active.upload.created} (${Math.round(active.ageSecs)} s ago): another invocation may still be using it, so the record is retried later. Uploads older than ${staleAgeSecs} s (STALE_UPLOAD_AGE_SECS) are aborted.`,
    );
  }

  for (const { upload, ageSecs } of inProgress) {
    try {
      await stac.abortUpload(target, upload.upload_id);
      request.onStaleUploadAborted?.(upload, ageSecs);
    } catch (error) {
      // 409: it completed or was aborted in the meantime.
      if (!(error instanceof StacApiError) || error.status !== 409) throw error;
    }
  }
  try {
    return await stac.createUpload(target, body);
  } catch (error) {
    if (!isUploadInProgress(error)) throw error;
    throw new UploadInProgressError(
      `Asset ${stac.assetPath(target)} got a new upload in progress right after the stale one was aborted: the record is retried later.`,
      { cause: error },
    );
  }
}

/**
 * Completes our upload. When a retried complete gets 409 because an earlier attempt went
 * through but its response was lost, reads the upload and accepts it when it is completed.
 */
async function completeOwnUpload(
  request: RegisterRequest,
  uploadId: string,
  etags: { etag: string; part_number: number }[],
): Promise<void> {
  const { stac, target } = request;
  try {
    await stac.completeUpload(target, uploadId, etags);
  } catch (error) {
    if (error instanceof StacApiError && error.status === 409 && error.attempts > 1) {
      const upload = await stac.getUpload(target, uploadId);
      if (upload.status === 'completed') return;
    }
    throw error;
  }
}

/** Sends the parts with bounded concurrency and returns their ETags in part order. */
async function sendParts(
  request: RegisterRequest,
  urls: { url: string; part: number }[],
): Promise<{ etag: string; part_number: number }[]> {
  const { parts, digests } = request;
  const urlByPart = new Map(urls.map((entry) => [entry.part, entry.url]));
  const md5ByPart = new Map(digests.md5Parts.map((entry) => [entry.part_number, entry.md5]));
  const etags: { etag: string; part_number: number }[] = [];
  const concurrency = Math.max(1, request.partConcurrency ?? DEFAULT_PART_CONCURRENCY);
  let next = 0;
  let failed = false;

  const worker = async (): Promise<void> => {
    while (!failed && next < parts.length) {
      const part = parts[next];
      next += 1;
      const url = urlByPart.get(part.partNumber);
      const md5 = md5ByPart.get(part.partNumber);
      if (url === undefined || md5 === undefined) {
        throw new StacApiError(
          `Upload creation returned no presigned URL or MD5 for part ${part.partNumber}.`,
          201,
        );
      }
      try {
        const etag = await request.stac.uploadPart(
          url,
          { partNumber: part.partNumber, md5, size: part.end - part.start },
          () => request.openPart(part),
        );
        etags.push({ etag, part_number: part.partNumber });
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, parts.length) }, worker);
  const results = await Promise.allSettled(workers);
  const rejected = results.find((result) => result.status === 'rejected');
  if (rejected !== undefined) throw (rejected as PromiseRejectedResult).reason;
  return etags.sort((a, b) => a.part_number - b.part_number);
}
