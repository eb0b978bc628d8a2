import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { assetFileUrlPath, type JsonResult, removeUploadParts } from './catalog';
import { type EmulatorContext, parentUrl } from './context';
import { ApiError, S3Error, validationError } from './http';
import { PartUrlSigner } from './presign';
import type { AssetParent, StoredAsset, StoredUpload, UploadStatus } from './store';
import { validateUploadCreate } from './validation';

/** Largest part that S3 accepts, in bytes (5 GiB). */
export const MAX_PART_SIZE_BYTES = 5 * 1024 ** 3;

const UPLOAD_STATUSES: readonly UploadStatus[] = ['in-progress', 'completed', 'aborted'];

/** Upload ids whose complete request is running, so that a second one gets a 409. */
const completing = new Set<string>();

function noUploadInProgress(): ApiError {
  return new ApiError(409, 'No upload in progress');
}

/** Renders an upload as the API returns it; `urls` only while it is in progress. */
export function renderUpload(upload: StoredUpload): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    upload_id: upload.uploadId,
    status: upload.status,
    number_parts: upload.numberParts,
    md5_parts: upload.md5Parts.map((md5, index) => ({ part_number: index + 1, md5 })),
  };
  if (upload.status === 'in-progress') {
    rendered.urls = upload.urls;
  }
  rendered.created = upload.created;
  if (upload.completed !== undefined) {
    rendered.completed = upload.completed;
  }
  if (upload.aborted !== undefined) {
    rendered.aborted = upload.aborted;
  }
  rendered['file:checksum'] = upload.checksum;
  if (upload.contentEncoding !== undefined) {
    rendered.content_encoding = upload.contentEncoding;
  }
  return rendered;
}

/** Handles `GET .../uploads`, filtered by the optional `status` query parameter. */
export function listUploads(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  status: string | null,
): JsonResult {
  context.store.getAsset(parent, assetId);
  if (status !== null && !UPLOAD_STATUSES.includes(status as UploadStatus)) {
    throw validationError(
      'status',
      `Invalid status "${status}": must be one of ${UPLOAD_STATUSES.join(', ')}.`,
    );
  }
  const uploads = context.store
    .uploadsOf(parent, assetId)
    .filter((upload) => status === null || upload.status === status);
  return { status: 200, body: { uploads: uploads.map(renderUpload), links: [] } };
}

/**
 * Handles `POST .../uploads`: validates the request, rejects a second upload in progress
 * with a 409 naming the first one's `upload_id`, and returns one presigned URL per part.
 */
export function createUpload(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  body: Record<string, unknown>,
): JsonResult {
  context.store.getAsset(parent, assetId);
  const request = validateUploadCreate(body);
  const inProgress = context.store
    .uploadsOf(parent, assetId)
    .find((upload) => upload.status === 'in-progress');
  if (inProgress) {
    throw new ApiError(409, 'Upload already in progress', { upload_id: inProgress.uploadId });
  }

  const now = context.now();
  const uploadId = randomBytes(24).toString('base64url');
  const upload: StoredUpload = {
    uploadId,
    parent,
    assetId,
    status: 'in-progress',
    numberParts: request.numberParts,
    md5Parts: request.md5Parts,
    checksum: request.checksum,
    contentEncoding: request.contentEncoding,
    created: now.toISOString(),
    urls: request.md5Parts.map((md5, index) => context.signer.sign(uploadId, index + 1, md5, now)),
    parts: new Map(),
  };
  context.store.uploads.set(uploadId, upload);
  return {
    status: 201,
    body: renderUpload(upload),
    headers: { Location: `${parentUrl(context, parent)}/assets/${assetId}/uploads/${uploadId}` },
  };
}

/** Handles `GET .../uploads/{u}`. */
export function getUpload(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  uploadId: string,
): JsonResult {
  return { status: 200, body: renderUpload(context.store.getUpload(parent, assetId, uploadId)) };
}

/** Handles `GET .../uploads/{u}/parts`: the parts received so far, by part number. */
export function listParts(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  uploadId: string,
): JsonResult {
  const upload = context.store.getUpload(parent, assetId, uploadId);
  if (upload.status !== 'in-progress') {
    // NOTE: which status service-stac returns for the parts of a finished upload is not
    // documented; the emulator returns the same 409 as complete and abort.
    throw noUploadInProgress();
  }
  const parts = [...upload.parts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([partNumber, part]) => ({
      etag: part.etag,
      part_number: partNumber,
      modified: part.modified,
      size: part.size,
    }));
  return { status: 200, body: { parts, links: [] } };
}

/** Handles `POST .../uploads/{u}/abort`: drops the parts and marks the upload aborted. */
export async function abortUpload(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  uploadId: string,
): Promise<JsonResult> {
  const upload = context.store.getUpload(parent, assetId, uploadId);
  if (upload.status !== 'in-progress' || completing.has(uploadId)) {
    throw noUploadInProgress();
  }
  await removeUploadParts(upload);
  upload.status = 'aborted';
  upload.aborted = context.now().toISOString();
  const { urls: _urls, md5_parts: _md5Parts, ...body } = renderUpload(upload);
  return { status: 200, body };
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '').toLowerCase();
}

/** Checks the complete request's part list against the parts received. */
function validateCompleteParts(
  context: EmulatorContext,
  upload: StoredUpload,
  body: Record<string, unknown>,
): void {
  if (!Array.isArray(body.parts)) {
    throw validationError('parts', 'This field is required and must be a list.');
  }
  if (body.parts.length !== upload.numberParts) {
    throw validationError(
      'parts',
      `Too ${body.parts.length < upload.numberParts ? 'few' : 'many'} parts: the upload has ${upload.numberParts} part(s) and the request lists ${body.parts.length}.`,
    );
  }
  const seen = new Set<number>();
  for (const [index, entry] of (body.parts as unknown[]).entries()) {
    const { etag, part_number: partNumber } = (entry ?? {}) as Record<string, unknown>;
    if (typeof etag !== 'string' || !Number.isInteger(partNumber)) {
      throw validationError(
        'parts',
        `Invalid parts[${index}]: etag (string) and part_number (integer) are required.`,
      );
    }
    const number = partNumber as number;
    if (number < 1 || number > upload.numberParts || seen.has(number)) {
      throw validationError(
        'parts',
        `Invalid parts[${index}].part_number ${number}: out of range or duplicate.`,
      );
    }
    seen.add(number);
    const stored = upload.parts.get(number);
    if (!stored) {
      throw validationError('parts', `Part ${number} has not been uploaded.`);
    }
    if (normalizeEtag(etag) !== normalizeEtag(stored.etag)) {
      throw validationError(
        'parts',
        `Invalid parts[${index}].etag: it does not match the ETag of part ${number}.`,
      );
    }
  }

  for (let number = 1; number <= upload.numberParts; number += 1) {
    const size = (upload.parts.get(number) as { size: number }).size;
    if (size > MAX_PART_SIZE_BYTES) {
      throw validationError(
        'parts',
        `Part ${number} is ${size} bytes, more than the maximum of ${MAX_PART_SIZE_BYTES} bytes.`,
      );
    }
    if (number < upload.numberParts && size < context.minPartSizeBytes) {
      throw validationError(
        'parts',
        `Part ${number} is ${size} bytes, less than the minimum of ${context.minPartSizeBytes} bytes for every part but the last.`,
      );
    }
  }
}

/** Computes the hex sha2-256 of a file, decompressing it first when `contentEncoding` is set. */
async function sha256OfFile(path: string, contentEncoding: string | undefined): Promise<string> {
  const hash = createHash('sha256');
  const source = createReadStream(path);
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      hash.update(chunk);
    }
  };
  if (contentEncoding === 'gzip') {
    await pipeline(source, createGunzip(), sink);
  } else if (contentEncoding === 'br') {
    await pipeline(source, createBrotliDecompress(), sink);
  } else {
    await pipeline(source, sink);
  }
  return hash.digest('hex');
}

/** Returns where an asset's file is stored in the data directory. */
function assetFilePath(context: EmulatorContext, parent: AssetParent, assetId: string): string {
  return parent.item === undefined
    ? join(context.dataDir, 'objects', parent.collection, 'assets', assetId)
    : join(context.dataDir, 'objects', parent.collection, 'items', parent.item, assetId);
}

/** Returns the ETag that S3 gives a multipart object: MD5 of the part MD5s, then `-<part count>`. */
function multipartEtag(upload: StoredUpload): string {
  const hash = createHash('md5');
  for (let number = 1; number <= upload.numberParts; number += 1) {
    const etag = normalizeEtag((upload.parts.get(number) as { etag: string }).etag);
    hash.update(Buffer.from(etag, 'hex'));
  }
  return `"${hash.digest('hex')}-${upload.numberParts}"`;
}

/**
 * Handles `POST .../uploads/{u}/complete`: checks the part list, assembles the file,
 * checks its sha2-256 against the upload's `file:checksum` (unless switched off), and sets
 * the asset's `file:checksum` and `href`. A rejected request leaves the upload in progress.
 */
export async function completeUpload(
  context: EmulatorContext,
  parent: AssetParent,
  assetId: string,
  uploadId: string,
  body: Record<string, unknown>,
): Promise<JsonResult> {
  const upload = context.store.getUpload(parent, assetId, uploadId);
  const asset = context.store.getAsset(parent, assetId);
  if (upload.status !== 'in-progress' || completing.has(uploadId)) {
    throw noUploadInProgress();
  }
  validateCompleteParts(context, upload, body);

  completing.add(uploadId);
  try {
    const finalPath = assetFilePath(context, parent, assetId);
    const assembledPath = `${finalPath}.${uploadId}.tmp`;
    await mkdir(join(finalPath, '..'), { recursive: true });
    try {
      const output = createWriteStream(assembledPath);
      await pipeline(async function* concatenateParts() {
        for (let number = 1; number <= upload.numberParts; number += 1) {
          yield* createReadStream((upload.parts.get(number) as { path: string }).path);
        }
      }, output);
      if (context.verifyChecksumOnComplete) {
        await verifyAssembledChecksum(assembledPath, upload);
      }
      await rename(assembledPath, finalPath);
    } finally {
      await rm(assembledPath, { force: true });
    }

    const now = context.now().toISOString();
    setAssetFile(context, asset, upload, finalPath, (await stat(finalPath)).size, now);
    asset.etag = multipartEtag(upload);
    await removeUploadParts(upload);
    upload.status = 'completed';
    upload.completed = now;
  } finally {
    completing.delete(uploadId);
  }
  const { urls: _urls, md5_parts: _md5Parts, ...result } = renderUpload(upload);
  return { status: 200, body: result };
}

async function verifyAssembledChecksum(path: string, upload: StoredUpload): Promise<void> {
  let digest: string;
  try {
    digest = await sha256OfFile(path, upload.contentEncoding);
  } catch (error) {
    throw validationError(
      'file:checksum',
      `The uploaded data could not be decoded as ${upload.contentEncoding}: ${(error as Error).message}`,
    );
  }
  if (`1220${digest}` !== upload.checksum.toLowerCase()) {
    throw validationError(
      'file:checksum',
      `The sha2-256 of the uploaded file (1220${digest}) does not match the upload's file:checksum (${upload.checksum}).`,
    );
  }
}

function setAssetFile(
  context: EmulatorContext,
  asset: StoredAsset,
  upload: StoredUpload,
  filePath: string,
  fileSize: number,
  now: string,
): void {
  asset.checksum = upload.checksum;
  asset.href = `${context.origin}${assetFileUrlPath(upload.parent, upload.assetId)}`;
  asset.filePath = filePath;
  asset.fileSize = fileSize;
  asset.contentEncoding = upload.contentEncoding;
  asset.updated = now;
}

/**
 * Handles `PUT` on a presigned part URL. It verifies the signature, lifetime and
 * `Content-MD5` header, then streams the body to a file while computing its MD5. It returns
 * 200 with the quoted hex MD5 as `ETag`, or an S3 XML error: 400 `BadDigest` when the body
 * does not match the header, 404 `NoSuchUpload` when the upload is not in progress.
 */
export async function putPart(
  context: EmulatorContext,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const grant = PartUrlSigner.parsePath(url.pathname);
  const upload = grant === undefined ? undefined : context.store.uploads.get(grant.uploadId);
  if (grant === undefined || upload === undefined || grant.part > upload.numberParts) {
    throw new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist.');
  }
  const contentMd5Header = req.headers['content-md5'];
  const contentMd5 = Array.isArray(contentMd5Header) ? contentMd5Header[0] : contentMd5Header;
  context.signer.verify(url, contentMd5, upload.md5Parts[grant.part - 1], context.now());
  if (upload.status !== 'in-progress' || completing.has(upload.uploadId)) {
    throw new S3Error(
      404,
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    );
  }

  const partDir = join(context.dataDir, 'parts', upload.uploadId);
  await mkdir(partDir, { recursive: true });
  const partPath = join(partDir, String(grant.part));
  const tempPath = `${partPath}.${randomBytes(6).toString('hex')}.tmp`;
  const md5 = createHash('md5');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(req, measure, createWriteStream(tempPath));
    const digest = md5.digest();
    if (digest.toString('base64') !== contentMd5) {
      throw new S3Error(
        400,
        'BadDigest',
        'The Content-MD5 you specified did not match what we received.',
        {
          ExpectedDigest: String(contentMd5),
          CalculatedDigest: digest.toString('base64'),
        },
      );
    }
    // The upload may have been aborted while the body streamed in.
    if (upload.status !== 'in-progress') {
      throw new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    await rename(tempPath, partPath);
    const etag = `"${digest.toString('hex')}"`;
    upload.parts.set(grant.part, {
      etag,
      size,
      modified: context.now().toISOString(),
      path: partPath,
    });
    res.writeHead(200, { ETag: etag, 'Content-Length': 0 });
    res.end();
  } finally {
    await rm(tempPath, { force: true });
  }
}
