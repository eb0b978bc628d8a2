import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DATA_PATH_PREFIX, type EmulatorContext } from './context';
import { S3Error } from './http';
import type { AssetParent, StoredAsset } from './store';

function findAsset(context: EmulatorContext, pathname: string): StoredAsset | undefined {
  const segments = pathname.slice(DATA_PATH_PREFIX.length).split('/').map(decodeURIComponent);
  let parent: AssetParent;
  if (segments.length === 2) {
    parent = { collection: segments[0] };
  } else if (segments.length === 3) {
    parent = { collection: segments[0], item: segments[1] };
  } else {
    return undefined;
  }
  const collection = context.store.collections.get(parent.collection);
  const assets =
    parent.item === undefined ? collection?.assets : collection?.items.get(parent.item)?.assets;
  return assets?.get(segments[segments.length - 1]);
}

/** Parses a single `bytes=` range; returns null when absent, 'invalid' when unsatisfiable. */
function parseRange(header: string | undefined, size: number): [number, number] | null | 'invalid' {
  if (header === undefined) {
    return null;
  }
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) {
    // Multiple ranges and other units are served as the whole file, which RFC 9110 allows.
    return null;
  }
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) {
    return 'invalid';
  }
  return [start, end];
}

/**
 * Serves the file of a completed upload at `/_data/<collection>[/<item>]/<asset>` for GET
 * and HEAD, with the headers the asset object endpoint documents (ETag, Cache-Control,
 * Content-Type, X-Amz-Meta-Sha256) and a single byte range when requested.
 */
export async function serveAssetFile(
  context: EmulatorContext,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const asset = findAsset(context, url.pathname);
  if (asset?.filePath === undefined || asset.fileSize === undefined) {
    throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
  }
  const size = asset.fileSize;
  const headers: Record<string, string | number> = {
    'Content-Type': asset.type,
    'Cache-Control': 'public, max-age=7200',
    'Accept-Ranges': 'bytes',
    ETag: asset.etag ?? '',
    'X-Amz-Meta-Sha256': (asset.checksum ?? '').slice(4).toLowerCase(),
  };
  if (asset.contentEncoding !== undefined) {
    headers['Content-Encoding'] = asset.contentEncoding;
  }

  const range = parseRange(req.headers.range, size);
  if (range === 'invalid') {
    res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const [start, end] = range ?? [0, size - 1];
  const status = range === null ? 200 : 206;
  if (range !== null) {
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  await pipeline(createReadStream(asset.filePath, { start, end }), res);
}
