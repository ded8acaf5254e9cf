/**
 * Launch templates, for the EC2 emulator: CreateLaunchTemplate, CreateLaunchTemplateVersion
 * (a version built on another, whose top-level settings the new data replaces),
 * DescribeLaunchTemplates, DeleteLaunchTemplateVersions and DeleteLaunchTemplate. A fleet
 * launches from a version; an instance keeps the user data it was launched with when the version
 * is deleted. Kept as EC2 keeps them: names unique, the default version undeletable, user data
 * at most 16 KB, at most 10,000 versions a template.
 */
import { randomBytes } from 'node:crypto';
import { Ec2Error, indexed, items, response, tag, text, under } from './ec2-xml.js';

export const MAX_USER_DATA_BYTES = 16 * 1024;
const MAX_VERSIONS = 10_000;
const NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;

export interface LaunchTemplate {
  id: string;
  name: string;
  createdAt: number;
  defaultVersion: number;
  latestVersion: number;
  /** Each version's data, flattened as the request gave it (`UserData`, `MetadataOptions.HttpTokens`). */
  versions: Map<number, Record<string, string>>;
}

/** The user data in a template's data, decoded, checked against EC2's limit. */
export function userDataOf(data: Record<string, string>): string {
  const userData = data.UserData ? Buffer.from(data.UserData, 'base64').toString('utf8') : '';
  if (Buffer.byteLength(userData) > MAX_USER_DATA_BYTES) throw new Ec2Error('InvalidParameterValue', `User data is limited to ${MAX_USER_DATA_BYTES} bytes`);
  return userData;
}

/** `data` over `base`: each top-level setting `data` names replaces the base's whole. */
function merged(base: Record<string, string>, data: Record<string, string>): Record<string, string> {
  const top = (key: string) => key.split('.')[0];
  const replaced = new Set(Object.keys(data).map(top));
  return { ...Object.fromEntries(Object.entries(base).filter(([k]) => !replaced.has(top(k)))), ...data };
}

const templateXml = (t: LaunchTemplate) =>
  [
    text('launchTemplateId', t.id),
    text('launchTemplateName', t.name),
    text('createTime', new Date(t.createdAt).toISOString()),
    text('createdBy', 'arn:aws:iam::123456789012:root'),
    text('defaultVersionNumber', t.defaultVersion),
    text('latestVersionNumber', t.latestVersion),
  ].join('');

export class LaunchTemplates {
  private readonly byId = new Map<string, LaunchTemplate>();

  get size(): number {
    return this.byId.size;
  }

  /** The template a request names by `<prefix>LaunchTemplateId` or `<prefix>LaunchTemplateName`. */
  find(p: Record<string, string>, prefix = ''): LaunchTemplate {
    const id = p[`${prefix}LaunchTemplateId`];
    const name = p[`${prefix}LaunchTemplateName`];
    const found = id ? this.byId.get(id) : [...this.byId.values()].find((t) => t.name === name);
    if (found) return found;
    if (id) throw new Ec2Error('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`);
    if (name) throw new Ec2Error('InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${name}, does not exist.`);
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter LaunchTemplateId or LaunchTemplateName.');
  }

  /** The data of a template's version (`$Default`, `$Latest` or a number; absent: the default). */
  data(t: LaunchTemplate, version?: string): Record<string, string> {
    const n = version === undefined || version === '$Default' ? t.defaultVersion : version === '$Latest' ? t.latestVersion : Number(version);
    const data = t.versions.get(n);
    if (!data) throw new Ec2Error('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${version} for template ${t.id}.`);
    return data;
  }

  readonly actions: Record<string, (p: Record<string, string>) => string> = {
    CreateLaunchTemplate: (p) => {
      const name = p.LaunchTemplateName ?? '';
      if (!NAME.test(name)) throw new Ec2Error('InvalidLaunchTemplateName.MalformedException', `The launch template name ${name} is not valid.`);
      if ([...this.byId.values()].some((t) => t.name === name))
        throw new Ec2Error('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
      const data = under(p, 'LaunchTemplateData');
      userDataOf(data);
      const t: LaunchTemplate = {
        id: `lt-${randomBytes(8).toString('hex')}`,
        name,
        createdAt: Date.now(),
        defaultVersion: 1,
        latestVersion: 1,
        versions: new Map([[1, data]]),
      };
      this.byId.set(t.id, t);
      return response('CreateLaunchTemplate', tag('launchTemplate', templateXml(t)));
    },
    CreateLaunchTemplateVersion: (p) => {
      const t = this.find(p);
      if (t.versions.size >= MAX_VERSIONS)
        throw new Ec2Error('LaunchTemplateVersionLimitExceeded', `The launch template ${t.id} has reached its limit of ${MAX_VERSIONS} versions.`);
      const data = under(p, 'LaunchTemplateData');
      userDataOf(data);
      const version = t.latestVersion + 1;
      t.versions.set(version, p.SourceVersion ? merged(this.data(t, p.SourceVersion), data) : data);
      t.latestVersion = version;
      const inner = [text('launchTemplateId', t.id), text('launchTemplateName', t.name), text('versionNumber', version), text('defaultVersion', false)].join(
        '',
      );
      return response('CreateLaunchTemplateVersion', tag('launchTemplateVersion', inner));
    },
    DescribeLaunchTemplates: (p) => {
      const ids = indexed(p, 'LaunchTemplateId').map((v) => v['']);
      const names = indexed(p, 'LaunchTemplateName').map((v) => v['']);
      for (const name of names)
        if (![...this.byId.values()].some((t) => t.name === name))
          throw new Ec2Error('InvalidLaunchTemplateName.NotFoundException', `At least one of the launch templates specified in the request does not exist.`);
      const found = [...this.byId.values()].filter((t) => (!ids.length || ids.includes(t.id)) && (!names.length || names.includes(t.name)));
      return response('DescribeLaunchTemplates', items('launchTemplates', found.map(templateXml)));
    },
    DeleteLaunchTemplateVersions: (p) => {
      const t = this.find(p);
      const done: string[] = [];
      const failed: string[] = [];
      for (const v of indexed(p, 'LaunchTemplateVersion').map((x) => Number(x['']))) {
        const head = text('launchTemplateId', t.id) + text('launchTemplateName', t.name) + text('versionNumber', v);
        const refuse = (code: string, message: string) => failed.push(head + tag('responseError', text('code', code) + text('message', message)));
        if (!t.versions.has(v)) refuse('launchTemplateVersionDoesNotExist', `The launch template version ${v} does not exist.`);
        else if (v === t.defaultVersion) refuse('unexpectedError', 'You cannot delete the default version of a launch template.');
        else {
          t.versions.delete(v);
          done.push(head);
        }
      }
      return response(
        'DeleteLaunchTemplateVersions',
        items('successfullyDeletedLaunchTemplateVersionSet', done) + items('unsuccessfullyDeletedLaunchTemplateVersionSet', failed),
      );
    },
    DeleteLaunchTemplate: (p) => {
      const t = this.find(p);
      this.byId.delete(t.id);
      return response('DeleteLaunchTemplate', tag('launchTemplate', templateXml(t)));
    },
  };
}
