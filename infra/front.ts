/**
 * The front users and CI call (the kubeconfig's server): a CloudFront distribution. The default
 * behaviour sends everything to the API function's streaming API Gateway; the paths of a pod's
 * streams go to the stream relay (infra/relay.ts) through a VPC origin on its internal balancer,
 * since neither API Gateway nor a Function URL carries an upgraded connection. Nothing is cached
 * and every viewer header but Host reaches the origin. CloudFront cuts a response silent for its
 * origin response timeout (60 s): the API sends a quiet watch a newline every 30 s
 * (`settings.watchKeepAliveSeconds`); a followed log of a pod that writes nothing for that long
 * ends, and `kubectl logs -f` is run again.
 *
 * A browser's watches are WebSocket upgrades of a collection's path, which only a request's
 * headers tell from a list: a viewer-request CloudFront Function on the default behaviour
 * (infra/front-router.js, which the CloudFront emulator runs too) sends every handshake to the
 * relay, where a watch costs a socket, not a function environment held for its life.
 */
import { readFileSync } from 'node:fs';
import type { Relay } from './relay';
import { cloudFrontPolicies, settings, streamPathPatterns } from './settings';

export function front(api: { rest: aws.apigateway.RestApi; stage: aws.apigateway.Stage }, relay: Relay) {
  const region = aws.getRegionOutput().name;
  const vpcOrigin = new aws.cloudfront.VpcOrigin('RelayOrigin', {
    vpcOriginEndpointConfig: {
      name: `${$app.name}-${$app.stage}-relay`,
      arn: relay.balancer.arn,
      httpPort: 80,
      httpsPort: 443,
      originProtocolPolicy: 'http-only',
      originSslProtocols: { items: ['TLSv1.2'], quantity: 1 },
    },
  });
  const router = new aws.cloudfront.Function('FrontRouter', {
    name: `${$app.name}-${$app.stage}-front-router`,
    runtime: 'cloudfront-js-2.0',
    comment: 'Skiff: WebSocket handshakes (watches from a browser) to the stream relay',
    code: readFileSync(settings.frontRouter, 'utf8'),
    publish: true,
  });
  const behaviour = (targetOriginId: string) => ({
    targetOriginId,
    viewerProtocolPolicy: 'https-only',
    allowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'PATCH', 'DELETE'],
    cachedMethods: ['GET', 'HEAD'],
    cachePolicyId: cloudFrontPolicies.cachingDisabled,
    originRequestPolicyId: cloudFrontPolicies.allViewerExceptHostHeader,
    compress: false,
  });
  const distribution = new aws.cloudfront.Distribution('Front', {
    enabled: true,
    comment: 'Skiff: the Kubernetes API',
    priceClass: 'PriceClass_100',
    origins: [
      {
        originId: 'api',
        domainName: $interpolate`${api.rest.id}.execute-api.${region}.amazonaws.com`,
        originPath: $interpolate`/${api.stage.stageName}`,
        customOriginConfig: {
          httpPort: 80,
          httpsPort: 443,
          originProtocolPolicy: 'https-only',
          originSslProtocols: ['TLSv1.2'],
          originReadTimeout: settings.originResponseTimeoutSeconds,
          originKeepaliveTimeout: 60,
        },
      },
      {
        originId: 'relay',
        domainName: relay.balancer.dnsName,
        vpcOriginConfig: { vpcOriginId: vpcOrigin.id, originReadTimeout: settings.originResponseTimeoutSeconds, originKeepaliveTimeout: 60 },
      },
    ],
    defaultCacheBehavior: { ...behaviour('api'), functionAssociations: [{ eventType: 'viewer-request', functionArn: router.arn }] },
    orderedCacheBehaviors: streamPathPatterns.map((pathPattern) => ({ pathPattern, ...behaviour('relay') })),
    restrictions: { geoRestriction: { restrictionType: 'none' } },
    viewerCertificate: { cloudfrontDefaultCertificate: true },
  });
  return { distribution, url: $interpolate`https://${distribution.domainName}` };
}
