import cf from 'cloudfront';

/**
 * The front's viewer-request function (CloudFront Functions, JavaScript runtime 2.0), on the
 * default behaviour: a WebSocket handshake goes to the stream relay, the rest to the API function.
 *
 * A browser watches over WebSocket (the dashboard: a collection's `GET ...?watch=1` upgraded, as
 * kube-apiserver serves it). Neither API Gateway nor a Function URL carries an upgrade, and a watch
 * streamed from the function holds one of its environments for as long as it lasts; the relay is
 * one long-lived server that serves the same API, so a thousand watches there cost one task. The
 * path cannot tell a watch from a list (both are the collection's), so the handshake's own header
 * does: `Upgrade` and `Connection` are never shown to an edge function, `Sec-WebSocket-Key` is.
 * CloudFront passes only WebSocket upgrades, so nothing else is sent to the relay this way.
 *
 * The same file runs in the CloudFront emulator (emulators/cloudfront.ts) for aws-local and tests.
 */
// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls it.
function handler(event) {
  if (event.request.headers['sec-websocket-key']) cf.selectRequestOriginById('relay');
  return event.request;
}
