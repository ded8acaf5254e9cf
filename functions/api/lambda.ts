/**
 * The API as an AWS Lambda handler behind a Function URL in RESPONSE_STREAM mode: the same Hono
 * app over the store named by SKIFF_STORE_URL (e.g. dynamodb://skiff-state), its answers
 * streamed (`streamHandle`), so a watch sends each event as it happens. A watch ends before the
 * function's timeout: at the client's `timeoutSeconds`, and at the latest after
 * SKIFF_MAX_WATCH_SECONDS (default 840 s, under Lambda's 900 s); clients resume from their
 * resourceVersion, as client-go's reflector does. `kubectl logs` (and `-f`) streams from the
 * pod's kubelet, reached over TLS pinned to the cluster CA with the node's own credential, both
 * kept in the table. Static tokens are kept in the table
 * (`skiff token create --store dynamodb://<table>`), read again every few seconds; the
 * ServiceAccount signing keys are there too. With SKIFF_KMS_KEY_ID, Secrets are sealed under that
 * KMS key before they reach the table. The kubelet's one-file build, deployed beside this handler
 * (or named by SKIFF_KUBELET_BUNDLE), is served to the workers that join. A Function URL carries
 * no upgraded connection: exec, attach and port-forward are the stream relay's (`relay.ts`),
 * which the front routes them to.
 */
import { streamHandle } from 'hono/aws-lambda';
import { storeFromEnv } from '../environment.js';
import { createApp } from './app.js';
import { cloudAppOptions } from './cloud-app.js';

export const handler = streamHandle(createApp(await cloudAppOptions(await storeFromEnv())));
