#!/usr/bin/env node
/**
 * Loads a bundled Lambda handler in this fresh Node.js process and invokes it once, the way
 * the Lambda Node.js runtime does: `require()` of the handler file, so its module-scope code
 * runs now, then `await handler(event, context)`.
 *
 * Usage: node invoke-bundle.cjs REQUEST_FILE RESPONSE_FILE
 *
 * REQUEST_FILE is JSON with `file` (absolute path of the bundle), `exportName` (name of the
 * handler export), `event`, `functionName`, `memoryMib` and `timeoutSecs`. The function's
 * settings come from this process's environment, as in Lambda.
 *
 * RESPONSE_FILE receives `{ "result": ... }` or `{ "error": { "name", "message", "stack" } }`.
 * The process exits with status 0 after writing it, even when the handler failed, because the
 * SDK's keep-alive sockets would otherwise keep it running. Any other status means the runner
 * itself failed. The handler's logs go to stdout and stderr unchanged.
 */
'use strict';

const { randomUUID } = require('node:crypto');
const fs = require('node:fs');

async function main() {
  const [requestFile, responseFile] = process.argv.slice(2);
  if (requestFile === undefined || responseFile === undefined) {
    throw new Error('Usage: node invoke-bundle.cjs REQUEST_FILE RESPONSE_FILE');
  }
  const request = JSON.parse(fs.readFileSync(requestFile, 'utf8'));

  let response;
  try {
    const handler = require(request.file)[request.exportName];
    if (typeof handler !== 'function') {
      throw new TypeError(`${request.file} exports no function named "${request.exportName}"`);
    }
    const result = await handler(request.event, createContext(request));
    response = { result: result ?? null };
  } catch (error) {
    response = {
      error: {
        name: error?.name ?? 'Error',
        message: error?.message ?? String(error),
        stack: error?.stack,
      },
    };
  }
  fs.writeFileSync(responseFile, JSON.stringify(response));
}

/** Builds the context object of one invocation with the fields Lambda passes. */
function createContext(request) {
  const deadline = Date.now() + request.timeoutSecs * 1000;
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const unsupported = (name) => () => {
    throw new Error(`context.${name} is not supported by this runner: return from the handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: request.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${request.functionName}`,
    memoryLimitInMB: String(request.memoryMib),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${request.functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
