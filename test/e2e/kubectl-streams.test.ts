/**
 * exec, attach, port-forward and cp through the API to the kubelet, with the real kubectl 1.32
 * (WebSockets; port-forward's SPDY tunnelled in them) and @kubernetes/client-node (WebSocket
 * channels), on both runtimes: streams kept apart, stdin to EOF, exit codes passed back, a TTY
 * whose size follows the client's, ports of a pod and of a Service forwarded, files copied both
 * ways, and each stream authorized as a `create` of its subresource.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BUSYBOX_IMAGE, type DockerEngine, importBusyboxImage, startDockerEngine } from '../../emulators/docker-engine.js';
import { k8s } from '../support/client-node.js';
import { eventually, type SkiffUp, startSkiffUp } from '../support/skiff-up.js';
import { until } from '../support/until.js';

interface Status {
  status: string;
  reason?: string;
  details?: { causes?: { reason: string; message: string }[] };
}
interface StreamsApi {
  Exec: new (
    kc: unknown,
  ) => {
    exec(
      ns: string,
      pod: string,
      container: string,
      command: string[],
      stdout: NodeJS.WritableStream | null,
      stderr: NodeJS.WritableStream | null,
      stdin: NodeJS.ReadableStream | null,
      tty: boolean,
      status?: (s: Status) => void,
    ): Promise<{ close(): void }>;
  };
  Cp: new (kc: unknown) => { cpToPod(ns: string, pod: string, container: string, src: string, target: string): Promise<void> };
  PortForward: new (
    kc: unknown,
  ) => {
    portForward(
      ns: string,
      pod: string,
      ports: number[],
      output: NodeJS.WritableStream,
      err: NodeJS.WritableStream | null,
      input: NodeJS.ReadableStream,
    ): Promise<unknown>;
  };
}
const streams = k8s as unknown as StreamsApi;

const manifests = (image: string, dir: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: ${image}
          command: ["sh", "-c", "mkdir -p ${dir}/www-$(POD_NAME) && echo hello from $(POD_NAME) > ${dir}/www-$(POD_NAME)/index.html && exec busybox httpd -f -p $(POD_IP):8080 -h ${dir}/www-$(POD_NAME)"]
          env:
            - name: POD_NAME
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
            - name: POD_IP
              valueFrom: { fieldRef: { fieldPath: status.podIP } }
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: v1
kind: Pod
metadata: { name: shell }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: sh
      image: ${image}
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done"]
      workingDir: /tmp
      env: [{ name: GREETING, value: hello }]
`;

for (const runtime of ['process', 'docker'] as const) {
  describe(`streams through the API (${runtime} runtime)`, () => {
    const dir = mkdtempSync(join(tmpdir(), `skiff-streams-${runtime}-`));
    let engine: DockerEngine | undefined;
    let cluster: SkiffUp;
    const children: ChildProcess[] = [];
    const image = runtime === 'docker' ? BUSYBOX_IMAGE : 'busybox:1.36';
    // The process runtime's containers share this machine's files: each run keeps to a folder of its own.
    const scratch = runtime === 'process' ? join(dir, 'pod') : '/tmp';

    beforeAll(async () => {
      const extra = ['--nodes', '1', '--runtime', runtime, '--ingress-http-port', '0', '--ingress-https-port', '0'];
      if (runtime === 'docker') {
        engine = await startDockerEngine();
        importBusyboxImage(engine);
        extra.push('--docker-socket', engine.socketPath);
      }
      cluster = await startSkiffUp(join(dir, 'data'), extra);
      const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifests(image, scratch) });
      expect(applied.code, applied.stderr).toBe(0);
      for (const which of [['pod/shell'], ['pod', '-l', 'app=web']]) {
        const waited = await cluster.kubectl(['wait', '--for=condition=Ready', ...which, '--timeout=90s'], { timeoutMs: 100_000 });
        expect(waited.code, waited.stderr).toBe(0);
      }
    }, 180_000);

    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await cluster?.stop();
      await engine?.stop();
      rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    const kubectl = (args: string[], input?: string) => cluster.kubectl(args, { input, timeoutMs: 30_000 });
    const webPod = async () => (await kubectl(['get', 'pod', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout;
    const config = () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      return kc;
    };
    /** A long-running kubectl, its output gathered. */
    const background = (args: string[]) => {
      const child = spawn('kubectl', args, { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
      children.push(child);
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, output: () => out, exited };
    };
    /** `kubectl port-forward <target> 0:<port>`: the local port it chose. */
    const portForward = async (target: string, port: number) => {
      const pf = background(['port-forward', target, `0:${port}`]);
      const local = await until('port-forward listening', async () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(pf.output())?.[1], 20_000, 50);
      return { ...pf, url: `http://127.0.0.1:${local}/` };
    };

    it('kubectl exec: stdout and stderr apart, the exit code passed back, in the working dir and environment; stdin read to EOF', async () => {
      const ran = await kubectl(['exec', 'shell', '--', 'sh', '-c', 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3']);
      expect(ran.code).toBe(3);
      expect(ran.stdout).toBe('hello from /tmp\n');
      expect(ran.stderr).toContain('oops\n');
      expect(ran.stderr).toContain('command terminated with exit code 3');
      const piped = await kubectl(['exec', '-i', 'shell', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], 'first line\nsecond line\n');
      expect(piped).toMatchObject({ code: 0, stdout: 'FIRST LINE\nSECOND LINE\ndone\n' });
      const missing = await kubectl(['exec', 'shell', '--', 'no-such-command']);
      expect([126, 127]).toContain(missing.code);
      // The Engine says nothing of why; a host process's failure is worded.
      if (runtime === 'process') expect(missing.stderr).toContain('"no-such-command": executable file not found in $PATH');
    });

    // The Engine's terminals here answer TIOCGWINSZ with ENOTTY (so does `docker exec -it` with
    // the docker CLI, on this machine's kernel): their size is read on the process runtime only.
    const sizes = runtime === 'process';

    it('kubectl exec -it: a terminal of the client’s size, the input echoed, the exit code passed back', async () => {
      // kubectl wants a terminal of its own: `script` gives it one, of 40 rows and 100 columns.
      const line = 'tty; stty size 2>/dev/null; read answer; echo got $answer; exit 3';
      const tty = spawn('script', ['-qec', `stty rows 40 cols 100; kubectl exec -it shell -- sh -c '${line}'`, '/dev/null'], {
        env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
      });
      children.push(tty);
      let out = '';
      tty.stdout.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => tty.once('exit', (code) => r(code)));
      await until('a terminal', async () => out.includes('/dev/pts/') && (!sizes || out.includes('40 100')), 20_000, 50).catch((err: Error) => {
        throw new Error(`${err.message}; the terminal shows ${JSON.stringify(out)}`);
      });
      tty.stdin.write('yes\r');
      expect(await exited).toBe(3);
      // Typed, echoed by the container's terminal, and read.
      expect(out).toMatch(/yes\r?\n[\s\S]*got yes/);
    });

    it('client-node exec with a TTY: resizes reach the command, and the exit code comes back in the Status', async () => {
      const stdout = Object.assign(new PassThrough(), { rows: 24, columns: 80 });
      const stdin = new PassThrough();
      let out = '';
      stdout.on('data', (d) => (out += String(d)));
      let status: Status | undefined;
      const exec = new streams.Exec(config());
      const command = ['sh', '-c', 'tty; stty size 2>/dev/null; while read a; do [ "$a" = q ] && exit 3; stty size 2>/dev/null; echo read; done'];
      await exec.exec('default', 'shell', 'sh', command, stdout, null, stdin, true, (s) => (status = s));
      await until('the terminal', async () => out.includes('/dev/pts/') && (!sizes || out.includes('24 80')), 20_000, 50).catch((err: Error) => {
        throw new Error(`${err.message}; the terminal shows ${JSON.stringify(out)}`);
      });
      Object.assign(stdout, { rows: 50, columns: 132 });
      stdout.emit('resize');
      // The resize is applied as it arrives: each line sent asks the size again, until it shows.
      await until(
        'the new size',
        async () => {
          stdin.write('\n');
          return out.includes('read') && (!sizes || out.includes('50 132'));
        },
        20_000,
        200,
      );
      stdin.write('q\n');
      await until('the status', async () => status, 20_000, 50);
      expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    });

    it('kubectl port-forward to a pod and to a Service, connection after connection; an unserved port is an error', async () => {
      const pod = await webPod();
      for (const target of [`pod/${pod}`, 'svc/web']) {
        const pf = await portForward(target, target.startsWith('svc') ? 80 : 8080);
        for (let i = 0; i < 10; i++) {
          const res = await fetch(pf.url, { headers: { connection: 'close' } });
          expect(await res.text()).toBe(`hello from ${pod}\n`);
        }
        pf.child.kill('SIGINT');
        await pf.exited;
      }
      const bad = await portForward(`pod/${pod}`, 9999);
      await expect(fetch(bad.url)).rejects.toThrow();
      await bad.exited;
      expect(bad.output()).toContain('error forwarding port 9999 to pod default/');
    });

    it('client-node port-forward carries a connection to the pod', async () => {
      const pod = await webPod();
      const pf = new streams.PortForward(config());
      const server = createServer((socket) => void pf.portForward('default', pod, [8080], socket, null, socket));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const { port } = server.address() as { port: number };
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
        expect(await res.text()).toBe(`hello from ${pod}\n`);
      } finally {
        server.close();
      }
    });

    it('kubectl cp copies a file into the container and back, byte for byte', async () => {
      const content = randomBytes(200_000);
      writeFileSync(join(dir, 'in.bin'), content);
      const inPod = `${scratch}/copied-${runtime}.bin`;
      const into = await kubectl(['cp', join(dir, 'in.bin'), `shell:${inPod}`]);
      expect(into.code, into.stderr).toBe(0);
      const size = await kubectl(['exec', 'shell', '--', 'sh', '-c', `wc -c < ${inPod}`]);
      expect(size.stdout.trim()).toBe('200000');
      const back = await kubectl(['cp', `shell:${inPod}`, join(dir, 'out.bin')]);
      expect(back.code, back.stderr).toBe(0);
      expect(readFileSync(join(dir, 'out.bin')).equals(content)).toBe(true);
    });

    it('client-node copies into the container (its Cp: tar over exec, stdin closed with v5’s close signal)', async () => {
      const source = join(dir, `to-pod-${runtime}`);
      mkdirSync(source, { recursive: true });
      writeFileSync(join(source, 'note.txt'), `from client-node on ${runtime}\n`);
      const target = `${scratch}/from-client-node`;
      expect((await kubectl(['exec', 'shell', '--', 'mkdir', '-p', target])).code).toBe(0);
      await new streams.Cp(config()).cpToPod('default', 'shell', 'sh', source, target);
      // Cp does not say when it is done: the file is looked for until it is there.
      const copied = await eventually('the copied file', async () => {
        const r = await kubectl(['exec', 'shell', '--', 'sh', '-c', `cat ${target}/note.txt 2>/dev/null`]);
        return r.code === 0 && r.stdout;
      });
      expect(copied).toBe(`from client-node on ${runtime}\n`);
    });

    it('kubectl attach follows the container’s output', async () => {
      const attached = await cluster.kubectl(['attach', 'shell', '-c', 'sh'], { timeoutMs: 2000 });
      expect(attached.stdout.split('\n').filter((l) => l === 'tick').length).toBeGreaterThanOrEqual(3);
    });

    it('kubectl attach -i writes to a container that keeps its stdin open; stdinOnce closes it after', async () => {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'reader' },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            { name: 'r', image, stdin: true, stdinOnce: true, command: ['sh', '-c', 'while read line; do echo "got $line"; done; echo "stdin closed"'] },
          ],
        },
      };
      expect((await kubectl(['apply', '-f', '-'], JSON.stringify(pod))).code).toBe(0);
      expect((await cluster.kubectl(['wait', '--for=condition=Ready', 'pod/reader', '--timeout=60s'], { timeoutMs: 70_000 })).code).toBe(0);
      const attached = await kubectl(['attach', '-i', 'reader', '-c', 'r'], 'hello\nworld\n');
      expect(attached.stdout).toContain('got hello\ngot world\nstdin closed');
      await eventually('the reader ended', async () => (await kubectl(['get', 'pod', 'reader', '-o', 'jsonpath={.status.phase}'])).stdout === 'Succeeded');
    });

    it('refuses what it cannot stream with a Status: no credential, no command, no such container, no upgrade, SPDY, another path', async () => {
      const { clusters, users } = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as {
        clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
        users: { user: { token: string } }[];
      };
      const server = new URL(clusters[0].cluster.server);
      const ca = Buffer.from(clusters[0].cluster['certificate-authority-data'], 'base64');
      const ask = (path: string, headers: Record<string, string>) =>
        new Promise<{ status: number; body: { reason?: string; message?: string } }>((resolve, reject) => {
          const req = httpsRequest({ host: server.hostname, port: server.port, path, ca, headers });
          req.on('upgrade', (res, socket) => {
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, body: {} });
          });
          req.on('response', async (res) => {
            let text = '';
            for await (const c of res) text += String(c);
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          });
          req.on('error', reject);
          req.end();
        });
      const ws = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') };
      const admin = { authorization: `Bearer ${users[0].user.token}` };
      const exec = '/api/v1/namespaces/default/pods/shell/exec';
      const v5 = { 'sec-websocket-protocol': 'v5.channel.k8s.io' };
      expect((await ask(`${exec}?command=true&stdout=true`, { ...ws, ...v5 })).status).toBe(401);
      expect(await ask(`${exec}?stdout=true`, { ...ws, ...v5, ...admin })).toMatchObject({
        status: 400,
        body: { message: 'you must specify at least one command for the container' },
      });
      expect(await ask(`${exec}?command=true`, { ...ws, ...v5, ...admin })).toMatchObject({
        status: 400,
        body: { message: 'you must specify at least 1 of stdin, stdout, stderr' },
      });
      expect(await ask(`${exec}?command=true&stdout=true&container=nope`, { ...ws, ...v5, ...admin })).toMatchObject({
        status: 400,
        body: { message: 'container nope is not valid for pod shell' },
      });
      expect(await ask('/api/v1/namespaces/default/pods/missing/exec?command=true&stdout=true', { ...ws, ...v5, ...admin })).toMatchObject({
        status: 404,
        body: { reason: 'NotFound' },
      });
      expect(await ask(`${exec}?command=true&stdout=true`, admin)).toMatchObject({ status: 400, body: { message: 'Upgrade request required' } });
      const spdy = await ask(`${exec}?command=true&stdout=true`, { connection: 'Upgrade', upgrade: 'SPDY/3.1', ...admin });
      expect(spdy).toMatchObject({ status: 400, body: { message: expect.stringContaining('streams are served over WebSocket only') } });
      const elsewhere = await ask('/api/v1/namespaces/default/pods', { ...ws, ...admin });
      expect(elsewhere).toMatchObject({ status: 400, body: { message: expect.stringContaining('is not served as an upgraded connection') } });
      // The kubelet answers the API alone: without the node's credential, or with another, it refuses.
      const node = JSON.parse((await kubectl(['get', 'node', '-o', 'json'])).stdout).items[0].status;
      const kubelet = `https://${node.addresses.find((a: { type: string }) => a.type === 'InternalIP').address}:${node.daemonEndpoints.kubeletEndpoint.Port}`;
      const direct = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = httpsRequest(`${kubelet}/exec/default/shell/sh?command=true&stdout=true`, { ca, headers });
          req.on('upgrade', (res, socket) => {
            socket.destroy();
            resolve(res.statusCode ?? 0);
          });
          req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await direct({ ...ws, ...v5 })).toBe(401);
      expect(await direct({ ...ws, ...v5, ...admin })).toBe(401);
      // A good one is answered 101, and nothing above broke the pod.
      expect((await ask(`${exec}?command=true&stdout=true`, { ...ws, ...v5, ...admin })).status).toBe(101);
      expect((await kubectl(['exec', 'shell', '--', 'echo', 'fine'])).stdout).toBe('fine\n');
    });

    it('authorizes each stream as a create of its subresource: a get of pods/exec is not enough', async () => {
      const role = await kubectl(['create', 'role', 'peek', '--verb=get', '--resource=pods,pods/exec,pods/portforward']);
      expect(role.code, role.stderr).toBe(0);
      await kubectl(['create', 'rolebinding', 'peek', '--role=peek', '--user=viewer']);
      const exec = await kubectl(['exec', '--as=viewer', 'shell', '--', 'true']);
      expect(exec.code).not.toBe(0);
      expect(exec.stderr).toContain('User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"');
      const pf = background(['port-forward', '--as=viewer', 'pod/shell', '0:8080']);
      await pf.exited;
      expect(pf.output()).toContain('cannot create resource "pods/portforward"');
      await kubectl(['create', 'role', 'run', '--verb=create', '--resource=pods/exec']);
      await kubectl(['create', 'rolebinding', 'run', '--role=run', '--user=viewer']);
      await eventually('exec allowed', async () => (await kubectl(['exec', '--as=viewer', 'shell', '--', 'echo', 'in'])).stdout === 'in\n');
    });
  });
}
