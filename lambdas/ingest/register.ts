import type { Readable } from 'node:stream';
import { IngestError, InvalidInputError } from './errors';
import { StacApiError, type StacAsset, type StacClient } from './stac-client';
import type { AssetMetadata, AssetTarget, ObjectDigests, PartRange } from './types';

/** Default number of parts sent at the same time. */
const DEFAULT_PART_CONCURRENCY = 4;

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
  /** Called when aborting our own upload failed; the error is not rethrown. */
  readonly onAbortFailed?: (uploadId: string, error: unknown) => void;
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
 * Registers a file as a STAC asset: puts the asset metadata, creates a
 * multipart upload with the MD5 of each part and the file's multihash, sends
 * the parts, completes the upload and reads the asset back to check its
 * checksum. An asset that already has the file's checksum gets no new
 * upload. Any failure after the upload was created aborts it.
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
  if (existing !== undefined && sameChecksum) {
    const metadataUpdated = !metadataMatches(existing, metadata);
    if (metadataUpdated) await stac.putAsset(target, metadata);
    return { outcome: 'unchanged', assetCreated: false, metadataUpdated, href: existing.href };
  }

  const assetCreated = await stac.putAsset(target, metadata);
  const upload = await stac.createUpload(target, {
    number_parts: request.parts.length,
    md5_parts: digests.md5Parts,
    'file:checksum': digests.checksum,
  });
  request.onUploadCreated?.(upload.upload_id);

  try {
    const etags = await sendParts(request, upload.urls ?? []);
    await stac.completeUpload(target, upload.upload_id, etags);
  } catch (error) {
    try {
      await stac.abortUpload(target, upload.upload_id);
    } catch (abortError) {
      request.onAbortFailed?.(upload.upload_id, abortError);
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
    uploadId: upload.upload_id,
    assetCreated,
    metadataUpdated: true,
    href: stored?.href,
  };
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
