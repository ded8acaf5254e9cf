/**
 * The API's front: API Gateway REST with response streaming, not a Function URL. The API must
 * reach kubelets on private addresses (logs now, exec and port-forward later), so its function
 * sits in the VPC, and Function URL streaming is not available to functions in a VPC. REST
 * streaming lasts up to 15 minutes and closes a response idle for 5 (regional endpoint): watches
 * end after `maxWatchSeconds` and clients resume. One greedy proxy resource sends every path to
 * the function; Skiff authenticates (bearer tokens) and authorizes (RBAC) itself.
 */

import { settings } from './settings';

export function apiGateway(api: sst.aws.Function) {
  const region = aws.getRegionOutput().name;
  const partition = aws.getPartitionOutput().partition;
  const rest = new aws.apigateway.RestApi('KubeApi', {
    description: 'Skiff: the Kubernetes API',
    endpointConfiguration: { types: 'REGIONAL' },
    // Protobuf request bodies reach the function intact (base64), not as mangled text.
    binaryMediaTypes: ['application/vnd.kubernetes.protobuf', 'application/octet-stream'],
  });
  const proxy = new aws.apigateway.Resource('KubeApiProxy', { restApi: rest.id, parentId: rest.rootResourceId, pathPart: '{proxy+}' });
  const uri = $interpolate`arn:${partition}:apigateway:${region}:lambda:path/2021-11-15/functions/${api.arn}/response-streaming-invocations`;
  const routes = [
    { name: 'Root', resourceId: rest.rootResourceId },
    { name: 'Proxy', resourceId: proxy.id },
  ].map(({ name, resourceId }) => {
    const method = new aws.apigateway.Method(`KubeApi${name}Method`, { restApi: rest.id, resourceId, httpMethod: 'ANY', authorization: 'NONE' });
    return new aws.apigateway.Integration(`KubeApi${name}Integration`, {
      restApi: rest.id,
      resourceId,
      httpMethod: method.httpMethod,
      type: 'AWS_PROXY',
      integrationHttpMethod: 'POST',
      uri,
      responseTransferMode: 'STREAM',
      timeoutMilliseconds: settings.apiTimeoutSeconds * 1000,
    });
  });
  const deployment = new aws.apigateway.Deployment(
    'KubeApiDeployment',
    { restApi: rest.id, triggers: { routes: $jsonStringify(routes.map((r) => [r.uri, r.responseTransferMode, r.timeoutMilliseconds])) } },
    { dependsOn: routes },
  );
  const stage = new aws.apigateway.Stage('KubeApiStage', { restApi: rest.id, deployment: deployment.id, stageName: 'k8s' });
  new aws.lambda.Permission('KubeApiInvoke', {
    action: 'lambda:InvokeFunction',
    function: api.name,
    principal: 'apigateway.amazonaws.com',
    sourceArn: $interpolate`${rest.executionArn}/*/*`,
  });
  return { rest, stage, url: stage.invokeUrl };
}
