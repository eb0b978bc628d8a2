import { parseArgs } from 'node:util';
import { DEFAULT_SEED_PATH, startStacEmulator } from './index';

const HELP = `Usage: npx tsx local/stac-emulator/main.ts [options]

Starts the STAC API emulator and prints its base URL.

Options:
  --host HOST                   address to listen on (default 127.0.0.1)
  --port PORT                   port to listen on, 0 for a free one (default 0)
  --seed FILE                   seed JSON file (default local/seed.json)
  --jwks-url URL                require bearer tokens on writes, verified against this JWKS
  --issuer ISS                  expected token issuer (only with --jwks-url)
  --client-id ID                expected token client_id (only with --jwks-url)
  --data-dir DIR                directory for part and asset files (default a temporary one)
  --presigned-url-ttl-secs N    lifetime of part URLs in seconds (default 3600)
  --min-part-size-bytes N       minimum size of every part but the last (default 5242880)
  --no-verify-checksum          accept a completed file whose sha2-256 differs from file:checksum
  --quiet                       do not log requests
  --help                        print this text
`;

function parseInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new Error(`Invalid --${name} ${value}: expected a non-negative integer`);
  }
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      seed: { type: 'string' },
      'jwks-url': { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'data-dir': { type: 'string' },
      'presigned-url-ttl-secs': { type: 'string' },
      'min-part-size-bytes': { type: 'string' },
      'no-verify-checksum': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const jwksUrl = values['jwks-url'];
  const emulator = await startStacEmulator({
    host: values.host,
    port: parseInteger('port', values.port),
    seed: values.seed ?? DEFAULT_SEED_PATH,
    auth: jwksUrl ? { jwksUrl, issuer: values.issuer, clientId: values['client-id'] } : false,
    dataDir: values['data-dir'],
    presignedUrlTtlSecs: parseInteger('presigned-url-ttl-secs', values['presigned-url-ttl-secs']),
    minPartSizeBytes: parseInteger('min-part-size-bytes', values['min-part-size-bytes']),
    verifyChecksumOnComplete: !values['no-verify-checksum'],
    log: values.quiet ? undefined : (line) => console.error(`[stac-emulator] ${line}`),
  });
  console.log(emulator.url);

  const stop = (): void => {
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Stopping the STAC emulator failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`STAC emulator failed to start: ${(error as Error).message}`);
  process.exit(1);
});
