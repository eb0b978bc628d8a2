import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { countMessages, startLocalStack } from './stack';

const SAMPLES_DIR = resolve(__dirname, '..', 'samples');
const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';
/** Time to wait for the pipeline to ingest every sample. */
const INGEST_TIMEOUT_MS = 120_000;

function progress(line: string): void {
  process.stderr.write(`[demo] ${line}\n`);
}

/** sha2-256 multihash of a file, computed here independently of the ingest code. */
async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `1220${hash.digest('hex')}`;
}

async function fetchJson(url: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url} failed with HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

async function hashDownload(href: string): Promise<string> {
  const response = await fetch(href);
  if (!response.ok) throw new Error(`GET ${href} failed with HTTP ${response.status}`);
  return `1220${createHash('sha256')
    .update(Buffer.from(await response.arrayBuffer()))
    .digest('hex')}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${operation} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Uploads the sample files into the local bucket, lets the pipeline ingest
 * them, then checks every asset against a hash of the file downloaded back
 * from its href. Prints one JSON line per asset and exits 0 only when all
 * are registered with matching checksums.
 */
async function main(): Promise<number> {
  const verbose = process.argv.includes('--verbose');
  progress('Starting moto_server, the STAC API emulator and the poller...');
  const stack = await startLocalStack({
    logLevel: verbose ? 'INFO' : 'WARN',
    metrics: false,
    log: verbose ? progress : undefined,
  });

  try {
    const files = (await readdir(SAMPLES_DIR)).filter((file) => !file.startsWith('.')).sort();
    for (const file of files) {
      const key = `${COLLECTION}/${ITEM}/${file}`;
      await stack.clients.s3.send(
        new PutObjectCommand({
          Bucket: stack.info.bucket,
          Key: key,
          Body: await readFile(join(SAMPLES_DIR, file)),
        }),
      );
      progress(`Uploaded s3://${stack.info.bucket}/${key}`);
    }

    progress('Waiting for the pipeline to ingest the files...');
    await withTimeout(stack.poller?.idle() ?? Promise.resolve(), INGEST_TIMEOUT_MS, 'Ingest');

    let failures = 0;
    for (const file of files) {
      const url = `${stack.info.stacApiUrl}/collections/${COLLECTION}/items/${ITEM}/assets/${file}`;
      const asset = await fetchJson(url);
      if (asset === undefined) {
        progress(`FAILED ${file}: no asset at ${url}`);
        failures += 1;
        continue;
      }

      const checksum = String(asset['file:checksum'] ?? '').toLowerCase();
      const expected = await hashFile(join(SAMPLES_DIR, file));
      const downloaded = await hashDownload(String(asset.href));
      const verified = checksum === expected && downloaded === expected;
      process.stdout.write(
        `${JSON.stringify({
          collection: COLLECTION,
          item: ITEM,
          asset: asset.id,
          type: asset.type,
          'file:checksum': asset['file:checksum'],
          href: asset.href,
          verified,
        })}\n`,
      );
      if (!verified) {
        progress(
          `FAILED ${file}: file:checksum ${checksum}, downloaded ${downloaded}, expected ${expected}`,
        );
        failures += 1;
      }
    }

    const deadLetters = await countMessages(stack.clients.sqs, stack.info.deadLetterQueueUrl);
    if (deadLetters > 0) {
      progress(`FAILED: ${deadLetters} message(s) in the dead-letter queue`);
      failures += 1;
    }
    if (failures > 0) {
      progress(`${failures} problem(s); rerun with --verbose to see the function's logs.`);
      return 1;
    }
    progress(`All ${files.length} files registered with matching checksums.`);
    return 0;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`Demo failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);
