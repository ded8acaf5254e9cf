/**
 * The API's Lambda entry point answers an API Gateway (HTTP API, payload 2.0) event with the
 * same app the embedded server runs, over the store SKIFF_STORE_URL names.
 */
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../shared/auth/tokens.js';

function event(method: string, path: string, token?: string, body?: string) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.com', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    requestContext: {
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      domainName: 'api.example.com',
      stage: '$default',
      requestId: 'r1',
      accountId: '1',
      apiId: 'a',
      time: '',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: false,
  };
}

describe('functions/api/lambda', () => {
  it('serves version, refuses a missing token, and creates and reads back an object', async () => {
    process.env.SKIFF_STORE_URL = 'sqlite::memory:';
    process.env.SKIFF_TOKENS = JSON.stringify([{ sha256: hashToken('ci-token'), user: 'ci', groups: ['system:masters'] }]);
    const { handler } = await import('../../functions/api/lambda.js');
    const call = (e: ReturnType<typeof event>) => (handler as unknown as (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }>)(e, {});

    const version = await call(event('GET', '/version'));
    expect(version.statusCode).toBe(200);
    expect(JSON.parse(version.body).minor).toBe('32');
    expect((await call(event('GET', '/api/v1/namespaces'))).statusCode).toBe(401);

    const ns = await call(event('POST', '/api/v1/namespaces', 'ci-token', JSON.stringify({ metadata: { name: 'from-lambda' } })));
    expect(ns.statusCode).toBe(201);
    const got = await call(event('GET', '/api/v1/namespaces/from-lambda', 'ci-token'));
    expect(JSON.parse(got.body).status.phase).toBe('Active');
  });
});
