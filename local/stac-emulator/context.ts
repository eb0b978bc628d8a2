import type { PartUrlSigner } from './presign';
import type { AssetParent, CatalogStore } from './store';

/** Path prefix under which the emulator serves the files of completed uploads. */
export const DATA_PATH_PREFIX = '/_data/';

/** State and settings that the request handlers share. */
export interface EmulatorContext {
  readonly store: CatalogStore;
  readonly signer: PartUrlSigner;
  /** Scheme, host and port, such as `http://127.0.0.1:8080`. */
  readonly origin: string;
  /** Origin followed by the API base path `/api/stac/v1`. */
  readonly apiUrl: string;
  readonly dataDir: string;
  readonly minPartSizeBytes: number;
  readonly verifyChecksumOnComplete: boolean;
  /** Current time; a function so that the handlers share one clock. */
  now(): Date;
}

/** Returns the API URL of an asset's parent: the item, or the collection for a collection asset. */
export function parentUrl(context: EmulatorContext, parent: AssetParent): string {
  const collectionUrl = `${context.apiUrl}/collections/${parent.collection}`;
  return parent.item === undefined ? collectionUrl : `${collectionUrl}/items/${parent.item}`;
}
