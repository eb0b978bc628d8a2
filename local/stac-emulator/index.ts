import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AccessTokenVerifier, type AuthOptions } from './auth';
import { putCollection, putItem, renderAsset } from './catalog';
import type { EmulatorContext } from './context';
import { FaultInjector } from './faults';
import { PartUrlSigner } from './presign';
import { API_BASE_PATH, createRequestListener, type RequestLogEntry } from './server';
import { type AssetParent, CatalogStore, loadSeed, type SeedData } from './store';
import { renderUpload } from './uploads';

export type { AuthOptions } from './auth';
export type { ActiveFault, FaultAction, FaultInjector, FaultRule } from './faults';
export type { RequestLogEntry } from './server';
export type { AssetParent, SeedData } from './store';

/** Default seed file: collection `ch.swisstopo.ingest-demo` with item `demo-item`. */
export const DEFAULT_SEED_PATH = resolve(__dirname, '..', 'seed.json');

/** Options of {@link startStacEmulator}. */
export interface StacEmulatorOptions {
  /** Address to listen on. @defaultValue `'127.0.0.1'` */
  host?: string;
  /** Port to listen on; 0 picks a free port. @defaultValue `0` */
  port?: number;
  /** Seed file path or seed object. @defaultValue {@link DEFAULT_SEED_PATH} */
  seed?: string | SeedData;
  /**
   * Bearer token check for writes, against the Cognito user pool's JWKS.
   * @defaultValue `false` (writes need no token)
   */
  auth?: AuthOptions | false;
  /** Directory for part and asset files. @defaultValue a new temporary directory, removed on close */
  dataDir?: string;
  /** Lifetime of presigned part URLs in seconds. @defaultValue `3600` */
  presignedUrlTtlSecs?: number;
  /**
   * Minimum size in bytes of every part but the last, checked on complete. Lower it only
   * in tests; S3 and so the real API require 5 MiB. @defaultValue `5 * 1024 * 1024`
   */
  minPartSizeBytes?: number;
  /**
   * Whether complete rejects with 400 a file whose sha2-256 differs from the upload's
   * `file:checksum`. The real API, which relies on S3, does not check this.
   * @defaultValue `true`
   */
  verifyChecksumOnComplete?: boolean;
  /** Receives one line per request and each unexpected error. @defaultValue no logging */
  log?: (line: string) => void;
}

/** A running emulator, with helpers to inspect its state in tests. */
export interface StacEmulator {
  /** API base URL, such as `http://127.0.0.1:PORT/api/stac/v1`. */
  readonly url: string;
  /** Scheme, host and port, such as `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Directory holding part and asset files. */
  readonly dataDir: string;
  /** Requests served so far, in order, with paths stripped of query strings. */
  readonly requestLog: RequestLogEntry[];
  /** Returns the uploads in progress as the API renders them, each with its asset's location. */
  uploadsInProgress(): (Record<string, unknown> & {
    collection: string;
    item?: string;
    asset: string;
  })[];
  /**
   * Injected faults: a rule makes the next N matching requests respond with a status, hang,
   * drop the connection or wait. The same rules can be managed over HTTP under `/_faults`.
   */
  readonly faults: FaultInjector;
  /** Treats every token presented so far as expired, so its next write gets a 401. */
  expireTokens(): number;
  /** Expires the presigned URLs of every upload in progress (403 `AccessDenied`, as S3). */
  expirePresignedUrls(): number;
  /** Returns every presigned part URL issued so far, with its query string. */
  presignedUrls(): string[];
  /** Returns an upload's status, or undefined when the upload does not exist. */
  uploadStatus(uploadId: string): 'in-progress' | 'completed' | 'aborted' | undefined;
  /** Sets an upload's creation time, to make it look older than it is. */
  setUploadCreated(uploadId: string, created: Date): void;
  /** Returns the asset as `GET` renders it, or undefined when it does not exist. */
  getAsset(
    collection: string,
    item: string | undefined,
    asset: string,
  ): Record<string, unknown> | undefined;
  /** Stops the server and removes the data directory unless it was given in the options. */
  close(): Promise<void>;
}

/**
 * Starts an in-memory emulator of the geoadmin service-stac v1 API: collections, items,
 * assets and multipart uploads under `/api/stac/v1`, with presigned part URLs and asset
 * files served by the same server.
 */
export async function startStacEmulator(options: StacEmulatorOptions = {}): Promise<StacEmulator> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const seed = loadSeed(options.seed ?? DEFAULT_SEED_PATH);
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'stac-emulator-')));
  const log = options.log ?? (() => undefined);
  const requestLog: RequestLogEntry[] = [];
  const verifier = options.auth ? new AccessTokenVerifier(options.auth) : undefined;

  const server = createServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${hostForUrl}:${address.port}`;
  const apiUrl = `${origin}${API_BASE_PATH}`;

  const context: EmulatorContext = {
    store: new CatalogStore(),
    signer: new PartUrlSigner(origin, options.presignedUrlTtlSecs ?? 3600),
    origin,
    apiUrl,
    dataDir,
    minPartSizeBytes: options.minPartSizeBytes ?? 5 * 1024 * 1024,
    verifyChecksumOnComplete: options.verifyChecksumOnComplete ?? true,
    now: () => new Date(),
  };
  try {
    applySeed(context, seed);
  } catch (error) {
    server.close();
    throw new Error(`Invalid seed data: ${(error as Error).message}`, { cause: error });
  }
  const faults = new FaultInjector();
  const expireTokens = () => verifier?.expireTokensSeen() ?? 0;
  const expirePresignedUrls = () => {
    const inProgress = [...context.store.uploads.values()].filter(
      (upload) => upload.status === 'in-progress',
    );
    for (const upload of inProgress) context.signer.expireUrlsOf(upload.uploadId);
    return inProgress.length;
  };
  server.on(
    'request',
    createRequestListener(context, verifier, requestLog, log, {
      injector: faults,
      expireTokens,
      expirePresignedUrls,
    }),
  );
  log(`STAC emulator listening on ${apiUrl}`);

  return {
    url: apiUrl,
    origin,
    dataDir,
    requestLog,
    uploadsInProgress: () =>
      [...context.store.uploads.values()]
        .filter((upload) => upload.status === 'in-progress')
        .map((upload) => ({
          ...renderUpload(upload),
          collection: upload.parent.collection,
          item: upload.parent.item,
          asset: upload.assetId,
        })),
    faults,
    expireTokens,
    expirePresignedUrls,
    presignedUrls: () =>
      [...context.store.uploads.values()].flatMap((upload) => upload.urls.map((u) => u.url)),
    uploadStatus: (uploadId) => context.store.uploads.get(uploadId)?.status,
    setUploadCreated: (uploadId, created) => {
      const upload = context.store.uploads.get(uploadId);
      if (upload === undefined) throw new Error(`Upload ${uploadId} does not exist`);
      upload.created = created.toISOString();
    },
    getAsset: (collection, item, asset) => {
      const parent: AssetParent = { collection, item };
      try {
        return renderAsset(context, parent, context.store.getAsset(parent, asset));
      } catch {
        return undefined;
      }
    },
    close: async () => {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      if (ownsDataDir) {
        await rm(dataDir, { recursive: true, force: true });
      }
      log('STAC emulator stopped');
    },
  };
}

function applySeed(context: EmulatorContext, seed: SeedData): void {
  for (const collection of seed.collections) {
    putCollection(context, String(collection.id), collection);
  }
  for (const item of seed.items ?? []) {
    putItem(context, String(item.collection), String(item.id), item);
  }
}
