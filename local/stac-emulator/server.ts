import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessTokenVerifier } from './auth';
import {
  deleteAsset,
  deleteItem,
  type JsonResult,
  patchAsset,
  putAsset,
  putCollection,
  putItem,
  renderAsset,
  renderCollection,
  renderItem,
} from './catalog';
import { DATA_PATH_PREFIX, type EmulatorContext, parentUrl } from './context';
import { type FaultInjector, parseFaultRule } from './faults';
import { serveAssetFile } from './files';
import {
  ApiError,
  drainBody,
  readJsonObject,
  S3Error,
  sendApiError,
  sendJson,
  sendS3Error,
} from './http';
import { UPLOAD_PATH_PREFIX } from './presign';
import type { AssetParent } from './store';
import {
  abortUpload,
  completeUpload,
  createUpload,
  getUpload,
  listParts,
  listUploads,
  putPart,
} from './uploads';

/** Path under which the emulator serves the STAC API, as data.geo.admin.ch does. */
export const API_BASE_PATH = '/api/stac/v1';

/** Path of the fault injection endpoints, outside the API. */
export const FAULTS_PATH = '/_faults';

/** One served request: method, path without query string, and response status. */
export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  /** Response status, or 0 when the connection closed without a response. */
  readonly status: number;
}

/** Fault injection that the request listener applies and exposes under {@link FAULTS_PATH}. */
export interface FaultControls {
  readonly injector: FaultInjector;
  /** Treats every token presented so far as expired; returns how many there were. */
  expireTokens(): number;
  /** Expires the presigned URLs of every upload in progress; returns how many uploads. */
  expirePresignedUrls(): number;
}

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'POST', 'DELETE']);

function methodNotAllowed(method: string): ApiError {
  return new ApiError(405, `Method "${method}" not allowed.`);
}

function decodeSegments(path: string): string[] {
  try {
    return path
      .split('/')
      .filter((segment) => segment !== '')
      .map(decodeURIComponent);
  } catch {
    throw new ApiError(404, 'Resource not found');
  }
}

async function routeAsset(
  context: EmulatorContext,
  req: IncomingMessage,
  method: string,
  url: URL,
  parent: AssetParent,
  assetId: string,
  rest: string[],
): Promise<JsonResult> {
  const { store } = context;
  if (rest.length === 0) {
    switch (method) {
      case 'GET':
        return { status: 200, body: renderAsset(context, parent, store.getAsset(parent, assetId)) };
      case 'PUT':
        return putAsset(context, parent, assetId, await readJsonObject(req));
      case 'PATCH':
        return patchAsset(context, parent, assetId, await readJsonObject(req));
      case 'DELETE':
        return deleteAsset(context, parent, assetId);
      default:
        throw methodNotAllowed(method);
    }
  }
  if (rest[0] !== 'uploads' || rest.length > 3) {
    throw new ApiError(404, 'Resource not found');
  }
  if (rest.length === 1) {
    if (method === 'GET') {
      return listUploads(context, parent, assetId, url.searchParams.get('status'));
    }
    if (method === 'POST') {
      return createUpload(context, parent, assetId, await readJsonObject(req));
    }
    throw methodNotAllowed(method);
  }
  const uploadId = rest[1];
  const action = rest[2];
  if (action === undefined) {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    return getUpload(context, parent, assetId, uploadId);
  }
  if (action === 'parts') {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    return listParts(context, parent, assetId, uploadId);
  }
  if (action === 'complete' || action === 'abort') {
    if (method !== 'POST') {
      throw methodNotAllowed(method);
    }
    return action === 'complete'
      ? completeUpload(context, parent, assetId, uploadId, await readJsonObject(req))
      : abortUpload(context, parent, assetId, uploadId);
  }
  throw new ApiError(404, 'Resource not found');
}

async function routeApi(
  context: EmulatorContext,
  req: IncomingMessage,
  method: string,
  url: URL,
): Promise<JsonResult> {
  const { store, apiUrl } = context;
  const segments = decodeSegments(url.pathname.slice(API_BASE_PATH.length));
  if (segments.length === 0) {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    return {
      status: 200,
      body: {
        id: 'stac-emulator',
        stac_version: '1.0.0',
        title: 'Local emulator of the data.geo.admin.ch STAC API',
        description: 'In-memory emulator of the transactional STAC API v1.',
        links: [
          { rel: 'self', href: `${apiUrl}/` },
          { rel: 'root', href: `${apiUrl}/` },
          { rel: 'data', href: `${apiUrl}/collections` },
        ],
      },
    };
  }
  if (segments[0] !== 'collections') {
    throw new ApiError(404, 'Resource not found');
  }
  if (segments.length === 1) {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    const collections = [...store.collections.values()].map((c) => renderCollection(context, c));
    return {
      status: 200,
      body: {
        collections,
        links: [
          { rel: 'self', href: `${apiUrl}/collections` },
          { rel: 'root', href: `${apiUrl}/` },
        ],
      },
    };
  }

  const collectionId = segments[1];
  const [, , level2, itemId, level4, assetIdOfItem, ...itemAssetRest] = segments;
  if (segments.length === 2) {
    if (method === 'GET') {
      return { status: 200, body: renderCollection(context, store.getCollection(collectionId)) };
    }
    if (method === 'PUT') {
      return putCollection(context, collectionId, await readJsonObject(req));
    }
    throw methodNotAllowed(method);
  }
  if (level2 === 'assets') {
    if (segments.length === 3) {
      if (method !== 'GET') {
        throw methodNotAllowed(method);
      }
      return listAssets(context, { collection: collectionId });
    }
    return routeAsset(
      context,
      req,
      method,
      url,
      { collection: collectionId },
      segments[3],
      segments.slice(4),
    );
  }
  if (level2 !== 'items') {
    throw new ApiError(404, 'Resource not found');
  }
  if (itemId === undefined) {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    const items = [...store.getCollection(collectionId).items.values()];
    return {
      status: 200,
      body: {
        type: 'FeatureCollection',
        features: items.map((item) => renderItem(context, item)),
        links: [
          { rel: 'self', href: `${apiUrl}/collections/${collectionId}/items` },
          { rel: 'root', href: `${apiUrl}/` },
          { rel: 'parent', href: `${apiUrl}/collections/${collectionId}` },
        ],
      },
    };
  }
  if (level4 === undefined) {
    switch (method) {
      case 'GET':
        return { status: 200, body: renderItem(context, store.getItem(collectionId, itemId)) };
      case 'PUT':
        return putItem(context, collectionId, itemId, await readJsonObject(req));
      case 'DELETE':
        return deleteItem(context, collectionId, itemId);
      default:
        throw methodNotAllowed(method);
    }
  }
  if (level4 !== 'assets') {
    throw new ApiError(404, 'Resource not found');
  }
  const parent = { collection: collectionId, item: itemId };
  if (assetIdOfItem === undefined) {
    if (method !== 'GET') {
      throw methodNotAllowed(method);
    }
    return listAssets(context, parent);
  }
  return routeAsset(context, req, method, url, parent, assetIdOfItem, itemAssetRest);
}

function listAssets(context: EmulatorContext, parent: AssetParent): JsonResult {
  const assets = [...context.store.getAssetMap(parent).values()];
  const parentHref = parentUrl(context, parent);
  return {
    status: 200,
    body: {
      assets: assets.map((asset) => renderAsset(context, parent, asset)),
      links: [
        { rel: 'self', href: `${parentHref}/assets` },
        { rel: 'root', href: `${context.apiUrl}/` },
        { rel: 'parent', href: parentHref },
      ],
    },
  };
}

/**
 * Creates the request listener: the STAC API under {@link API_BASE_PATH} (writes need a
 * valid bearer token when `verifier` is given), presigned part uploads under `/_upload/`
 * and the files of completed uploads under `/_data/`. Each request is appended to
 * `requestLog` and logged as one line without its query string or headers.
 */
export function createRequestListener(
  context: EmulatorContext,
  verifier: AccessTokenVerifier | undefined,
  requestLog: RequestLogEntry[],
  log: (line: string) => void,
  faults?: FaultControls,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', context.origin);
    res.on('close', () => {
      const status = res.writableFinished ? res.statusCode : 0;
      requestLog.push({ method, path: url.pathname, status });
      const elapsedMs = (performance.now() - started).toFixed(1);
      const outcome = status === 0 ? 'closed without a response' : String(status);
      log(`${method} ${url.pathname} ${outcome} ${elapsedMs}ms`);
    });
    handleWithFaults(context, verifier, req, res, method, url, faults).catch((error: unknown) => {
      log(`${method} ${url.pathname} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) {
        sendApiError(res, new ApiError(500, 'Internal server error'));
      } else {
        res.destroy();
      }
    });
  };
}

async function handleWithFaults(
  context: EmulatorContext,
  verifier: AccessTokenVerifier | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
  faults: FaultControls | undefined,
): Promise<void> {
  if (faults !== undefined && url.pathname.startsWith(FAULTS_PATH)) {
    await handleFaultRequest(faults, req, res, method, url);
    return;
  }
  if (faults !== undefined && (await faults.injector.apply(method, url.pathname, req, res))) {
    return;
  }
  await handle(context, verifier, req, res, method, url);
}

/**
 * Serves the fault endpoints for manual use: `GET /_faults` lists the rules, `POST /_faults`
 * adds one (see {@link parseFaultRule}), `DELETE /_faults` removes them all, and
 * `POST /_faults/expire-tokens` and `POST /_faults/expire-urls` expire credentials early.
 */
async function handleFaultRequest(
  faults: FaultControls,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
): Promise<void> {
  const action = url.pathname.slice(FAULTS_PATH.length);
  try {
    if (action === '' && method === 'GET') {
      sendJson(res, 200, { faults: faults.injector.list() });
    } else if (action === '' && method === 'POST') {
      let rule: ReturnType<typeof parseFaultRule>;
      try {
        rule = parseFaultRule(await readJsonObject(req));
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw new ApiError(400, (error as Error).message);
      }
      sendJson(res, 201, { id: faults.injector.add(rule) });
    } else if (action === '' && method === 'DELETE') {
      faults.injector.clear();
      sendJson(res, 200, { faults: [] });
    } else if (action === '/expire-tokens' && method === 'POST') {
      sendJson(res, 200, { expired: faults.expireTokens() });
    } else if (action === '/expire-urls' && method === 'POST') {
      sendJson(res, 200, { expired: faults.expirePresignedUrls() });
    } else {
      throw new ApiError(404, 'Resource not found');
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    sendApiError(res, error);
  }
}

async function handle(
  context: EmulatorContext,
  verifier: AccessTokenVerifier | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
): Promise<void> {
  const isS3Path =
    url.pathname.startsWith(UPLOAD_PATH_PREFIX) || url.pathname.startsWith(DATA_PATH_PREFIX);
  try {
    if (url.pathname.startsWith(UPLOAD_PATH_PREFIX)) {
      if (method !== 'PUT') {
        throw new S3Error(
          405,
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
        );
      }
      await putPart(context, req, url, res);
      return;
    }
    if (url.pathname.startsWith(DATA_PATH_PREFIX)) {
      if (method !== 'GET' && method !== 'HEAD') {
        throw new S3Error(
          405,
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
        );
      }
      await serveAssetFile(context, req, url, res);
      return;
    }
    if (url.pathname !== API_BASE_PATH && !url.pathname.startsWith(`${API_BASE_PATH}/`)) {
      throw new ApiError(404, 'Resource not found');
    }
    if (verifier !== undefined && WRITE_METHODS.has(method)) {
      await verifier.verifyAuthorization(req.headers.authorization, context.now());
    }
    const result = await routeApi(context, req, method, url);
    sendJson(res, result.status, result.body, result.headers);
  } catch (error) {
    // Read the rest of the body first, so that clients still sending it see the response.
    if (!req.readableEnded) {
      await drainBody(req).catch(() => undefined);
    }
    if (error instanceof S3Error) {
      sendS3Error(res, error);
    } else if (error instanceof ApiError) {
      if (isS3Path) {
        sendS3Error(res, new S3Error(error.status, 'InvalidRequest', error.message));
      } else {
        sendApiError(res, error);
      }
    } else {
      throw error;
    }
  }
}
