/**
 * The instance metadata service of one emulated EC2 instance, as IMDSv2 answers: `PUT
 * /latest/api/token` (with `X-aws-ec2-metadata-token-ttl-seconds`, 1 to 21,600) gives a session
 * token, and each read under `/latest/meta-data/` must carry it (`X-aws-ec2-metadata-token`) when
 * the instance requires tokens (HttpTokens `required`), else 401. The instance's tags are under
 * `tags/instance/` only when its metadata options allow tags (InstanceMetadataTags `enabled`),
 * and they follow CreateTags. On EC2 this lives at 169.254.169.254; the emulator serves each
 * instance's under its own path and tells the instance where (`AWS_EC2_METADATA_SERVICE_ENDPOINT`,
 * the variable the AWS SDKs read).
 */
import { randomBytes } from 'node:crypto';

export interface MetadataInstance {
  id: string;
  instanceType: string;
  zone: string;
  privateIp: string;
  tags: ReadonlyMap<string, string>;
  metadata: { tokensRequired: boolean; tags: boolean };
}

export interface MetadataAnswer {
  status: number;
  body: string;
}

const MAX_TTL_SECONDS = 21_600;

export class InstanceMetadata {
  /** Session tokens and when each expires. */
  private readonly tokens = new Map<string, number>();

  answer(i: MetadataInstance, method: string, path: string, headers: Record<string, string | string[] | undefined>): MetadataAnswer {
    if (path === '/latest/api/token') {
      if (method !== 'PUT') return { status: 405, body: '' };
      const ttl = Number(headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) return { status: 400, body: '' };
      const token = randomBytes(24).toString('base64');
      this.tokens.set(token, Date.now() + ttl * 1000);
      return { status: 200, body: token };
    }
    if (method !== 'GET') return { status: 405, body: '' };
    const token = String(headers['x-aws-ec2-metadata-token'] ?? '');
    const expires = this.tokens.get(token);
    if (expires !== undefined && expires < Date.now()) this.tokens.delete(token);
    if (i.metadata.tokensRequired && !(expires !== undefined && expires >= Date.now())) return { status: 401, body: '' };
    const value = this.read(i, path.replace(/^\/latest\/meta-data\//, ''));
    return value === undefined ? { status: 404, body: '' } : { status: 200, body: value };
  }

  private read(i: MetadataInstance, key: string): string | undefined {
    const fixed: Record<string, string> = {
      'instance-id': i.id,
      'instance-type': i.instanceType,
      'local-ipv4': i.privateIp,
      'placement/availability-zone': i.zone,
    };
    if (key in fixed) return fixed[key];
    if (!i.metadata.tags) return undefined;
    if (key === 'tags/instance' || key === 'tags/instance/') return [...i.tags.keys()].join('\n');
    return key.startsWith('tags/instance/') ? i.tags.get(decodeURIComponent(key.slice('tags/instance/'.length))) : undefined;
  }
}
