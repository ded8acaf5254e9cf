/**
 * An EC2 endpoint on loopback (an emulator: emulators/README.md). No local EC2 engine exists, so
 * this speaks EC2's query protocol (form-encoded `Action=...&Version=2016-11-15`, XML answers:
 * emulators/ec2-xml.ts) to the real AWS SDK over real HTTP, for what the `aws-ec2` cloud provider
 * calls: RunInstances, CreateFleet (`instant`), DescribeInstances, TerminateInstances, CreateTags
 * and the launch template actions (emulators/ec2-templates.ts). It keeps the limits and habits
 * AWS documents (../shared/AWS.md):
 *
 * - user data at most 16 KB before base64;
 * - RunInstances and CreateFleet draw from a token bucket of 1,000 instances refilled at 2 a
 *   second, and answer `RequestLimitExceeded` when it is empty;
 * - `InsufficientInstanceCapacity` for a type and zone when told to (`insufficientCapacity`),
 *   and `Unsupported` for a type not offered in a zone; a fleet tries its next override instead
 *   and lists the refusals among its errors;
 * - a `ClientToken` makes a launch idempotent (`IdempotentParameterMismatch` if the parameters
 *   differ);
 * - DescribeInstances is eventually consistent: a new instance is not listed for a moment, and
 *   asking for it by id meanwhile is `InvalidInstanceID.NotFound`; terminated instances stay
 *   listed as terminated.
 *
 * An instance is a process: once running, its user data is run by `sh`, and it learns who it is
 * from its instance metadata service (emulators/imds.ts: IMDSv2 tokens, its tags when its
 * metadata options allow), so the kubelet a launch script starts really registers. Its private
 * address is a loopback one of its own (127.100.x.y), where that kubelet can serve. Terminating
 * it stops that process group.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LaunchTemplates, userDataOf } from './ec2-templates.js';
import { Ec2Error, errorXml, escapeXml, indexed, items, response, tag, tagsFor, text } from './ec2-xml.js';
import { type HostProcess, startHostProcess } from './host-process.js';
import { InstanceMetadata, type MetadataInstance } from './imds.js';
import { TokenBucket } from './token-bucket.js';

const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 } as const;
type State = keyof typeof STATE_CODES;

export interface Ec2Instance extends MetadataInstance {
  reservationId: string;
  state: State;
  tags: Map<string, string>;
  userData: string;
  clientToken?: string;
  launchTemplateId?: string;
  /** The fleet that launched it, if a fleet did. */
  fleetId?: string;
  launchedAt: number;
  /** Before this, DescribeInstances does not show it (eventual consistency). */
  visibleAt: number;
  /** What its user data printed. */
  output: string;
  process?: HostProcess;
}

export interface Ec2EmulatorOptions {
  /** Instance types and the zones each is offered in. */
  offerings: { instanceType: string; zones: string[] }[];
  /** How long a new instance stays out of DescribeInstances (default 300 ms). */
  describeDelayMs?: number;
  /** From pending to running, when the user data starts (default 100 ms). */
  bootMs?: number;
  /** Run each instance's user data (default true). */
  runUserData?: boolean;
  /** More environment for the user data (the PATH of this machine is always passed). */
  env?: Record<string, string>;
  /** The RunInstances token bucket: capacity and refill per second (default 1,000 and 2). */
  launchBucket?: { capacity: number; refillPerSecond: number };
  /** Also write each instance's console output to `<consoleDir>/<instance id>.log`. */
  consoleDir?: string;
}

export interface Ec2Emulator {
  endpoint: string;
  readonly instances: ReadonlyMap<string, Ec2Instance>;
  /** How many launch templates exist. */
  readonly launchTemplates: () => number;
  /** Every request answered: its action and parameters. */
  readonly requests: { action: string; params: Record<string, string> }[];
  /** From now on (or no longer), launches of this type in this zone fail for capacity. */
  insufficientCapacity(instanceType: string, zone: string, on?: boolean): void;
  close(): Promise<void>;
}

/** What a launch makes: `count` instances of one type in one zone, alike. */
interface Launch {
  instanceType: string;
  zone: string;
  count: number;
  /** The launch template's data (flattened), under the request's own settings. */
  settings: Record<string, string>;
  tags: Map<string, string>;
  reservationId: string;
  clientToken?: string;
  launchTemplateId?: string;
  fleetId?: string;
}

/** A reservation's fields: its id, owner, and its instances. */
const reservationFields = (reservationId: string, list: Ec2Instance[]) =>
  `${text('reservationId', reservationId)}${text('ownerId', '123456789012')}<groupSet/>${items('instancesSet', list.map(instanceXml))}`;

function instanceXml(i: Ec2Instance): string {
  const tags = [...i.tags].map(([k, v]) => text('key', k) + text('value', v));
  return [
    text('instanceId', i.id),
    text('imageId', 'ami-0skiff000000000'),
    tag('instanceState', text('code', STATE_CODES[i.state]) + text('name', i.state)),
    text('privateIpAddress', i.privateIp),
    text('instanceType', i.instanceType),
    text('launchTime', new Date(i.launchedAt).toISOString()),
    tag('placement', text('availabilityZone', i.zone)),
    i.clientToken ? text('clientToken', i.clientToken) : '',
    items('tagSet', tags),
  ].join('');
}

/** A request's parameters without its client token, in order: what a retry must repeat. */
const signatureOf = (p: Record<string, string>) =>
  JSON.stringify(
    Object.entries(p)
      .filter(([k]) => k !== 'ClientToken')
      .sort(),
  );

/** What EC2 holds, and its actions, each taking the request's parameters and answering XML. */
class Ec2Service {
  readonly instances = new Map<string, Ec2Instance>();
  readonly scarce = new Set<string>();
  readonly templates = new LaunchTemplates();
  readonly metadata = new InstanceMetadata();
  /** Where this emulator listens, once it does (each instance's metadata service is under it). */
  endpoint = '';
  private readonly bucket: TokenBucket;
  /** Each client token: the request it came with, and the answer it got. */
  private readonly byToken = new Map<string, { signature: string; answer: () => string }>();
  /** Addresses are handed out in order from a random start, so emulators side by side rarely share one. */
  private nextIp = 1 + randomInt(60_000);

  constructor(private readonly options: Ec2EmulatorOptions) {
    this.bucket = new TokenBucket({ capacity: 1000, refillPerSecond: 2, ...options.launchBucket });
  }

  readonly actions: Record<string, (p: Record<string, string>) => string> = {
    RunInstances: (p) => this.idempotent(p, () => this.runInstances(p)),
    CreateFleet: (p) => this.idempotent(p, () => this.createFleet(p)),
    DescribeInstances: (p) => this.describeInstances(p),
    TerminateInstances: (p) => this.terminateInstances(p),
    CreateTags: (p) => this.createTags(p),
    ...this.templates.actions,
  };

  /** Pending, then running after the boot time, when its user data starts. */
  private boot(i: Ec2Instance): void {
    setTimeout(() => {
      if (i.state !== 'pending') return;
      i.state = 'running';
      if (this.options.runUserData === false || !i.userData) return;
      const env = { ...this.options.env, AWS_EC2_METADATA_SERVICE_ENDPOINT: `${this.endpoint}/imds/${i.id}` };
      i.process = startHostProcess(['sh', '-c', i.userData], env, (d) => {
        i.output = (i.output + String(d)).slice(-64 * 1024);
        if (this.options.consoleDir) appendFileSync(join(this.options.consoleDir, `${i.id}.log`), d);
      });
    }, this.options.bootMs ?? 100);
  }

  /** Stops an instance's process group: SIGTERM, SIGKILL after 5 s. */
  async stop(i: Ec2Instance): Promise<void> {
    await i.process?.stop(5000);
  }

  /** A request with a client token answers as it first did; the same token with other parameters is refused. */
  private idempotent(p: Record<string, string>, act: () => () => string): string {
    const previous = p.ClientToken ? this.byToken.get(p.ClientToken) : undefined;
    if (previous) {
      if (previous.signature !== signatureOf(p))
        throw new Ec2Error('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that has different parameters.');
      return previous.answer();
    }
    const answer = act();
    if (p.ClientToken) this.byToken.set(p.ClientToken, { signature: signatureOf(p), answer });
    return answer();
  }

  /** Why a type cannot launch in a zone now (an error code and message), or undefined. */
  private refusal(type: string, zone: string): Ec2Error | undefined {
    if (!this.options.offerings.find((o) => o.instanceType === type)?.zones.includes(zone))
      return new Ec2Error('Unsupported', `Your requested instance type (${type}) is not supported in your requested Availability Zone (${zone}).`);
    if (this.scarce.has(`${type}/${zone}`))
      return new Ec2Error(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}).`,
        500,
      );
    return undefined;
  }

  /** Makes a launch's instances and boots them. */
  private launch(l: Launch): Ec2Instance[] {
    const userData = userDataOf(l.settings);
    const now = Date.now();
    const made: Ec2Instance[] = [];
    for (let n = 0; n < l.count; n++) {
      const ip = this.nextIp++;
      const i: Ec2Instance = {
        id: `i-${randomBytes(8).toString('hex')}`,
        reservationId: l.reservationId,
        instanceType: l.instanceType,
        zone: l.zone,
        state: 'pending',
        tags: new Map(l.tags),
        userData,
        clientToken: l.clientToken,
        launchTemplateId: l.launchTemplateId,
        fleetId: l.fleetId,
        metadata: {
          tokensRequired: l.settings['MetadataOptions.HttpTokens'] === 'required',
          tags: l.settings['MetadataOptions.InstanceMetadataTags'] === 'enabled',
        },
        // On loopback (all of 127/8 reaches this machine), so the kubelet it starts can listen there.
        privateIp: `127.100.${(ip >> 8) & 255}.${ip & 255}`,
        launchedAt: now,
        visibleAt: now + (this.options.describeDelayMs ?? 300),
        output: '',
      };
      this.instances.set(i.id, i);
      this.boot(i);
      made.push(i);
    }
    return made;
  }

  private runInstances(p: Record<string, string>): () => string {
    const min = Number(p.MinCount ?? 1);
    const max = Number(p.MaxCount ?? 1);
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min)
      throw new Ec2Error('InvalidParameterValue', 'MinCount and MaxCount must be at least 1, and MinCount at most MaxCount.');
    const template = p['LaunchTemplate.LaunchTemplateId'] || p['LaunchTemplate.LaunchTemplateName'] ? this.templates.find(p, 'LaunchTemplate.') : undefined;
    const base = template ? this.templates.data(template, p['LaunchTemplate.Version']) : {};
    const own = Object.fromEntries(Object.entries(p).filter(([k]) => !/^(LaunchTemplate|TagSpecification|MinCount|MaxCount|ClientToken|Placement)\./.test(k)));
    const settings = { ...base, ...own };
    const type = settings.InstanceType;
    if (!type) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceType.');
    const zone = p['Placement.AvailabilityZone'] ?? this.options.offerings.find((o) => o.instanceType === type)?.zones[0] ?? '';
    userDataOf(settings);
    const refused = this.refusal(type, zone);
    if (refused) throw refused;
    if (!this.bucket.take(max)) throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    const tags = new Map([...tagsFor(base, 'instance'), ...tagsFor(p, 'instance')]);
    const reservationId = `r-${randomBytes(8).toString('hex')}`;
    this.launch({ instanceType: type, zone, count: max, settings, tags, reservationId, clientToken: p.ClientToken, launchTemplateId: template?.id });
    return () => this.reservation('RunInstances', reservationId);
  }

  /**
   * An instant fleet: `TotalTargetCapacity` on-demand instances from the launch template configs,
   * each override tried in order (by `Priority` when the allocation strategy is `prioritized`)
   * until the capacity is met. Offerings that cannot launch are the answer's errors; what was
   * launched is its instances, so a fleet may be fulfilled in part.
   */
  private createFleet(p: Record<string, string>): () => string {
    if ((p.Type ?? 'maintain') !== 'instant') throw new Ec2Error('InvalidParameterValue', 'This emulator runs fleets of type instant only.');
    const total = Number(p['TargetCapacitySpecification.TotalTargetCapacity']);
    if (!Number.isInteger(total) || total < 1) throw new Ec2Error('InvalidTargetCapacitySpecification', 'TotalTargetCapacity must be a positive integer.');
    const lifecycle = p['TargetCapacitySpecification.DefaultTargetCapacityType'] ?? 'on-demand';
    if (lifecycle !== 'on-demand') throw new Ec2Error('InvalidParameterValue', 'This emulator launches on-demand capacity only.');
    const candidates = this.fleetCandidates(p);
    if (!this.bucket.take(total)) throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    const fleetId = `fleet-${randomUUID()}`;
    const errors: string[] = [];
    const launched: string[] = [];
    let remaining = total;
    for (const c of candidates) {
      if (remaining === 0) break;
      const tpl = tag('launchTemplateSpecification', text('launchTemplateId', c.templateId) + text('version', c.version));
      const which = tag('launchTemplateAndOverrides', tpl + tag('overrides', text('instanceType', c.instanceType) + text('availabilityZone', c.zone)));
      const refused = this.refusal(c.instanceType, c.zone);
      if (refused) {
        errors.push(which + text('lifecycle', lifecycle) + text('errorCode', refused.code) + text('errorMessage', refused.message));
        continue;
      }
      const tags = new Map([...tagsFor(c.settings, 'instance'), ...tagsFor(p, 'instance')]);
      const reservationId = `r-${randomBytes(8).toString('hex')}`;
      const made = this.launch({ ...c, count: remaining, tags, reservationId, clientToken: p.ClientToken, launchTemplateId: c.templateId, fleetId });
      remaining = 0;
      const ids = items(
        'instanceIds',
        made.map((i) => escapeXml(i.id)),
      );
      launched.push(which + text('lifecycle', lifecycle) + ids + text('instanceType', c.instanceType) + text('availabilityZone', c.zone));
    }
    const answer = response('CreateFleet', text('fleetId', fleetId) + items('errorSet', errors) + items('fleetInstanceSet', launched));
    return () => answer;
  }

  /** The offerings a fleet may launch, in the order it tries them. */
  private fleetCandidates(p: Record<string, string>) {
    const configs = indexed(p, 'LaunchTemplateConfigs');
    if (!configs.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter LaunchTemplateConfigs.');
    const prioritized = p['OnDemandOptions.AllocationStrategy'] === 'prioritized';
    const candidates = configs.flatMap((config) => {
      const template = this.templates.find(config, 'LaunchTemplateSpecification.');
      const version = config['LaunchTemplateSpecification.Version'] ?? '$Default';
      const settings = this.templates.data(template, version);
      const overrides = indexed(config, 'Overrides');
      return (overrides.length ? overrides : [{}]).map((o) => {
        const instanceType = o.InstanceType ?? settings.InstanceType ?? '';
        const zone = o.AvailabilityZone ?? this.options.offerings.find((x) => x.instanceType === instanceType)?.zones[0] ?? '';
        return { templateId: template.id, version, settings, instanceType, zone, priority: Number(o.Priority ?? Number.POSITIVE_INFINITY) };
      });
    });
    return prioritized ? candidates.sort((a, b) => a.priority - b.priority) : candidates;
  }

  private reservation(action: string, reservationId: string): string {
    return response(
      action,
      reservationFields(
        reservationId,
        [...this.instances.values()].filter((i) => i.reservationId === reservationId),
      ),
    );
  }

  private describeInstances(p: Record<string, string>): string {
    const now = Date.now();
    const ids = indexed(p, 'InstanceId').map((v) => v['']);
    for (const id of ids) {
      const i = this.instances.get(id);
      if (!i || i.visibleAt > now) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    }
    const filters = indexed(p, 'Filter');
    const found = [...this.instances.values()].filter((i) => i.visibleAt <= now && (!ids.length || ids.includes(i.id)) && filters.every((f) => matches(i, f)));
    const reservations = new Map<string, Ec2Instance[]>();
    for (const i of found) reservations.set(i.reservationId, [...(reservations.get(i.reservationId) ?? []), i]);
    const xml = [...reservations].map(([rid, list]) => reservationFields(rid, list));
    return response('DescribeInstances', items('reservationSet', xml));
  }

  private terminateInstances(p: Record<string, string>): string {
    const ids = indexed(p, 'InstanceId').map((v) => v['']);
    if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId.');
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
    const state = (name: string, s: State) => tag(name, text('code', STATE_CODES[s]) + text('name', s));
    const changes = ids.map((id) => {
      const i = this.instances.get(id) as Ec2Instance;
      const previous = i.state;
      if (i.state !== 'terminated') {
        i.state = 'shutting-down';
        void this.stop(i).then(() => {
          i.state = 'terminated';
        });
      }
      return `${text('instanceId', id)}${state('currentState', i.state)}${state('previousState', previous)}`;
    });
    return response('TerminateInstances', items('instancesSet', changes));
  }

  private createTags(p: Record<string, string>): string {
    const ids = indexed(p, 'ResourceId').map((v) => v['']);
    for (const id of ids) if (!this.instances.has(id)) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    for (const t of indexed(p, 'Tag')) for (const id of ids) this.instances.get(id)?.tags.set(t.Key, t.Value ?? '');
    return response('CreateTags', text('return', 'true'));
  }
}

/** Whether an instance passes one DescribeInstances filter. */
function matches(i: Ec2Instance, filter: Record<string, string>): boolean {
  const values = indexed(filter, 'Value').map((v) => v['']);
  const name = filter.Name ?? '';
  if (name === 'tag-key') return values.some((v) => i.tags.has(v));
  const actual = name.startsWith('tag:')
    ? i.tags.get(name.slice(4))
    : ({ 'instance-state-name': i.state, 'instance-id': i.id, 'instance-type': i.instanceType, 'availability-zone': i.zone } as Record<string, string>)[name];
  return actual !== undefined && values.includes(actual);
}

export async function startEc2Emulator(options: Ec2EmulatorOptions): Promise<Ec2Emulator> {
  const ec2 = new Ec2Service(options);
  const requests: Ec2Emulator['requests'] = [];
  const server: Server = createServer((req, res) => {
    const imds = /^\/imds\/(i-[0-9a-f]+)(\/.*)$/.exec(req.url ?? '');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (imds) {
        const instance = ec2.instances.get(imds[1]);
        const answer =
          instance && instance.state !== 'terminated' ? ec2.metadata.answer(instance, req.method ?? 'GET', imds[2], req.headers) : { status: 404, body: '' };
        res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
        return;
      }
      const { Action: action = '', Version: _version, ...params } = Object.fromEntries(new URLSearchParams(body));
      requests.push({ action, params });
      try {
        const handle = ec2.actions[action];
        if (!handle) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
        const answer = handle(params);
        res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' }).end(answer);
      } catch (err) {
        const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', String(err), 500);
        res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' }).end(errorXml(e));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ec2.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: ec2.endpoint,
    instances: ec2.instances,
    launchTemplates: () => ec2.templates.size,
    requests,
    insufficientCapacity(instanceType, zone, on = true) {
      if (on) ec2.scarce.add(`${instanceType}/${zone}`);
      else ec2.scarce.delete(`${instanceType}/${zone}`);
    },
    async close() {
      await Promise.all([...ec2.instances.values()].map((i) => ec2.stop(i)));
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
