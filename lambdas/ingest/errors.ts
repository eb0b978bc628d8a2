/**
 * Base of every error the ingest raises on purpose. `retryable` is true when a
 * later delivery of the same record can succeed, so the batch loop retries it.
 */
export abstract class IngestError extends Error {
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Input that cannot succeed however often it is retried: a key outside the
 * layout, an invalid id, an unknown extension or an invalid metadata value.
 * The fix is to upload the object again under a valid key or with valid metadata.
 */
export class InvalidInputError extends IngestError {
  readonly retryable = false;
}

/** Object key that does not fit the key layout or yields an invalid id. */
export class InvalidKeyError extends InvalidInputError {}

/** Invalid S3 object user metadata value, or an invalid combination of them. */
export class InvalidMetadataError extends InvalidInputError {}

/** File name whose media type is unknown or ambiguous. */
export class UnsupportedMediaTypeError extends InvalidInputError {}

/** Object larger than the API's multipart limits allow. */
export class FileTooLargeError extends InvalidInputError {}

/** Event record that is not a valid S3 event notification. */
export class InvalidEventError extends InvalidInputError {}

/** Invalid function configuration (environment variables). */
export class ConfigurationError extends IngestError {
  readonly retryable = false;
}
