import { startLocalStack } from './stack';

/** Writes a progress line to stderr, so stdout carries only the function's JSON logs. */
function progress(line: string): void {
  process.stderr.write(`[local] ${line}\n`);
}

async function main(): Promise<void> {
  progress('Starting moto_server, the STAC API emulator and the poller...');
  const stack = await startLocalStack({ log: progress });
  const { info } = stack;

  progress(`Endpoints written to .local/stack.json:\n${JSON.stringify(info, null, 2)}`);
  progress(
    [
      'Drop files into the bucket to ingest them, for example:',
      `  AWS_ACCESS_KEY_ID=${info.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.credentials.secretAccessKey} \\`,
      `  aws --endpoint-url ${info.s3Endpoint} --region ${info.region} \\`,
      `    s3 cp samples/places-4326.csv s3://${info.bucket}/ch.swisstopo.ingest-demo/demo-item/places-4326.csv`,
      `Then read the asset: curl ${info.stacApiUrl}/collections/ch.swisstopo.ingest-demo/items/demo-item/assets/places-4326.csv`,
      'Press Ctrl+C to stop.',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    progress(`${signal} received, stopping...`);
    await stack.stop();
    progress('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  progress(`Failed to start the local stack: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
