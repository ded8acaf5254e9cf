/**
 * An EC2 endpoint on loopback (an emulator: emulators/README.md). No local EC2 engine exists, so
 * this speaks EC2's query protocol (form-encoded `Action=...&Version=2016-11-15`, XML answers)
 * to the real AWS SDK over real HTTP, for what the `aws-ec2` cloud provider calls:
 * RunInstances, DescribeInstances, TerminateInstances and CreateTags. It keeps the limits and
 * habits AWS documents (../shared/AWS.md):
 *
 * - user data at most 16 KB before base64;
 * - RunInstances draws from a token bucket of 1,000 instances refilled at 2 a second, and
 *   answers `RequestLimitExceeded` when it is empty;
 * - `InsufficientInstanceCapacity` for a type and zone when told to (`insufficientCapacity`),
 *   and `Unsupported` for a type not offered in a zone;
 * - a `ClientToken` makes RunInstances idempotent (`IdempotentParameterMismatch` if the
 *   parameters differ);
 * - DescribeInstances is eventually consistent: a new instance is not listed for a moment, and
 *   asking for it by id meanwhile is `InvalidInstanceID.NotFound`; terminated instances stay
 *   listed as terminated.
 *
 * An instance is a process: once running, its user data is run by `sh` with the instance's
 * identity in the environment (`EC2_INSTANCE_ID`, `EC2_AVAILABILITY_ZONE`, `EC2_INSTANCE_TYPE`,
 * `EC2_PRIVATE_IP`, as a script would read them from the instance metadata service), so the
 * kubelet a launch script starts really registers. Its private address is a loopback one of its
 * own (127.100.x.y), where that kubelet can serve. Terminating it stops that process group.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type HostProcess, startHostProcess } from './host-process.js';
import { TokenBucket } from './token-bucket.js';

const MAX_USER_DATA_BYTES = 16 * 1024;
const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 } as const;
type State = keyof typeof STATE_CODES;

export interface Ec2Instance {
  id: string;
  reservationId: string;
  instanceType: string;
  zone: string;
  state: State;
  tags: Map<string, string>;
  userData: string;
  clientToken?: string;
  launchTemplateId?: string;
  privateIp: string;
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
  /** Every request answered: its action and parameters. */
  readonly requests: { action: string; params: Record<string, string> }[];
  /** From now on (or no longer), launches of this type in this zone fail for capacity. */
  insufficientCapacity(instanceType: string, zone: string, on?: boolean): void;
  close(): Promise<void>;
}

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const tag = (name: string, inner: string) => `<${name}>${inner}</${name}>`;
const text = (name: string, value: string | number) => tag(name, escapeXml(String(value)));
const items = (name: string, list: string[]) => (list.length ? tag(name, list.map((i) => tag('item', i)).join('')) : `<${name}/>`);
const response = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">${text('requestId', randomUUID())}${inner}</${action}Response>`;

/** `Prefix.1.Name`-style parameters as a list of their sub-maps (`Prefix.<n>.<rest>`). */
function indexed(params: Record<string, string>, prefix: string): Record<string, string>[] {
  const byIndex = new Map<number, Record<string, string>>();
  for (const [key, value] of Object.entries(params)) {
    const m = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)(?:\\.(.*))?$`).exec(key);
    if (!m) continue;
    const entry = byIndex.get(Number(m[1])) ?? {};
    entry[m[2] ?? ''] = value;
    byIndex.set(Number(m[1]), entry);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
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

/** What EC2 holds, and its actions, each taking the request's parameters and answering XML. */
class Ec2Service {
  readonly instances = new Map<string, Ec2Instance>();
  readonly scarce = new Set<string>();
  private readonly bucket: TokenBucket;
  private readonly byToken = new Map<string, { signature: string; reservationId: string }>();
  private nextIp = 1;

  constructor(private readonly options: Ec2EmulatorOptions) {
    this.bucket = new TokenBucket({ capacity: 1000, refillPerSecond: 2, ...options.launchBucket });
  }

  readonly actions: Record<string, (p: Record<string, string>) => string> = {
    RunInstances: (p) => this.runInstances(p),
    DescribeInstances: (p) => this.describeInstances(p),
    TerminateInstances: (p) => this.terminateInstances(p),
    CreateTags: (p) => this.createTags(p),
  };

  /** Pending, then running after the boot time, when its user data starts. */
  private boot(i: Ec2Instance): void {
    setTimeout(() => {
      if (i.state !== 'pending') return;
      i.state = 'running';
      if (this.options.runUserData === false || !i.userData) return;
      const env = {
        ...this.options.env,
        EC2_INSTANCE_ID: i.id,
        EC2_AVAILABILITY_ZONE: i.zone,
        EC2_INSTANCE_TYPE: i.instanceType,
        EC2_PRIVATE_IP: i.privateIp,
      };
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

  private runInstances(p: Record<string, string>): string {
    const min = Number(p.MinCount ?? 1);
    const max = Number(p.MaxCount ?? 1);
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min)
      throw new Ec2Error('InvalidParameterValue', 'MinCount and MaxCount must be at least 1, and MinCount at most MaxCount.');
    const type = p.InstanceType;
    if (!type) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceType.');
    const offering = this.options.offerings.find((o) => o.instanceType === type);
    const zone = p['Placement.AvailabilityZone'] ?? offering?.zones[0] ?? '';
    const userData = p.UserData ? Buffer.from(p.UserData, 'base64').toString('utf8') : '';
    if (Buffer.byteLength(userData) > MAX_USER_DATA_BYTES) throw new Ec2Error('InvalidParameterValue', `User data is limited to ${MAX_USER_DATA_BYTES} bytes`);
    const signature = JSON.stringify(
      Object.entries(p)
        .filter(([k]) => k !== 'ClientToken')
        .sort(),
    );
    const previous = p.ClientToken ? this.byToken.get(p.ClientToken) : undefined;
    if (previous) {
      if (previous.signature !== signature)
        throw new Ec2Error('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that has different parameters.');
      return this.reservation('RunInstances', previous.reservationId);
    }
    if (!offering?.zones.includes(zone))
      throw new Ec2Error('Unsupported', `Your requested instance type (${type}) is not supported in your requested Availability Zone (${zone}).`);
    if (this.scarce.has(`${type}/${zone}`))
      throw new Ec2Error(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}).`,
        500,
      );
    if (!this.bucket.take(max)) throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    const tags = new Map<string, string>();
    for (const spec of indexed(p, 'TagSpecification')) {
      if (spec.ResourceType !== 'instance') continue;
      for (const t of indexed(spec, 'Tag')) tags.set(t.Key, t.Value ?? '');
    }
    const reservationId = `r-${randomBytes(8).toString('hex')}`;
    const now = Date.now();
    for (let n = 0; n < max; n++) {
      const ip = this.nextIp++;
      const i: Ec2Instance = {
        id: `i-${randomBytes(8).toString('hex')}`,
        reservationId,
        instanceType: type,
        zone,
        state: 'pending',
        tags: new Map(tags),
        userData,
        clientToken: p.ClientToken,
        launchTemplateId: p['LaunchTemplate.LaunchTemplateId'],
        // On loopback (all of 127/8 reaches this machine), so the kubelet it starts can listen there.
        privateIp: `127.100.${(ip >> 8) & 255}.${ip & 255}`,
        launchedAt: now,
        visibleAt: now + (this.options.describeDelayMs ?? 300),
        output: '',
      };
      this.instances.set(i.id, i);
      this.boot(i);
    }
    if (p.ClientToken) this.byToken.set(p.ClientToken, { signature, reservationId });
    return this.reservation('RunInstances', reservationId);
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
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { Action: action = '', Version: _version, ...params } = Object.fromEntries(new URLSearchParams(body));
      requests.push({ action, params });
      try {
        const handle = ec2.actions[action];
        if (!handle) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
        const answer = handle(params);
        res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' }).end(answer);
      } catch (err) {
        const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', String(err), 500);
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${text('Code', e.code)}${text('Message', e.message)}</Error></Errors>${text('RequestID', randomUUID())}</Response>`;
        res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' }).end(xml);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    instances: ec2.instances,
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
