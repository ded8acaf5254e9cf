/**
 * The whole loop on one machine, as a newcomer runs it: `skiff up` with two local kubelets, and
 * the real kubectl. Pods really run (host processes, or Docker containers on a private engine):
 * a Deployment spreads over the nodes, logs stream, scale and rollouts work, `kubectl top` measures and `kubectl autoscale` scales, a killed container
 * is restarted, a crashing one backs off, a failing readiness probe keeps a pod out of Ready,
 * delete leaves nothing behind, a killed kubelet's pods move to the other node, and a restart
 * of `skiff up` keeps the Deployment and its pods. The same suite runs on both runtimes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine, type DockerEngine } from '../../emulators/docker-engine.js';
import { eventually, startSkiffUp, type SkiffUp } from '../support/skiff-up.js';

interface PodView {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      containerID?: string;
      state: { waiting?: { reason: string }; running?: object; terminated?: { exitCode: number } };
    }[];
  };
}

const FAST = [
  ...['--node-grace-seconds', '4', '--eviction-seconds', '1', '--lease-interval-ms', '1000', '--backoff-initial-ms', '3000'],
  ...['--horizontal-pod-autoscaler-sync-period', '1', '--horizontal-pod-autoscaler-downscale-stabilization', '4'],
  ...['--history-interval-ms', '1000'],
];

for (const runtime of ['process', 'docker'] as const) {
  describe(`skiff up with local workers (${runtime} runtime)`, () => {
    const dir = mkdtempSync(join(tmpdir(), `skiff-local-${runtime}-`));
    const dataDir = join(dir, 'data');
    let engine: DockerEngine | undefined;
    let cluster: SkiffUp;
    const image = runtime === 'docker' ? BUSYBOX_IMAGE : 'busybox:1.36';

    beforeAll(async () => {
      const extra = [...FAST, '--nodes', '2', '--runtime', runtime];
      if (runtime === 'docker') {
        engine = await startDockerEngine();
        importBusyboxImage(engine);
        extra.push('--docker-socket', engine.socketPath);
      }
      cluster = await startSkiffUp(dataDir, extra);
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
      await engine?.stop();
      rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    const kubectl = async (...args: string[]) => {
      const r = await cluster.kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const apply = async (yaml: string) => {
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: yaml });
      if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
    };
    const pods = async (selector: string): Promise<PodView[]> =>
      (JSON.parse(await kubectl('get', 'pods', '-l', selector, '-o', 'json')) as { items: PodView[] }).items;
    const pod = async (name: string): Promise<PodView> => JSON.parse(await kubectl('get', 'pod', name, '-o', 'json')) as PodView;
    const runningReady = (list: PodView[]) =>
      list.filter(
        (p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
    /** Waits for exactly `count` Running and Ready pods matching `selector`, and answers them. */
    const ready = (selector: string, count: number, timeoutMs?: number) =>
      eventually(
        `${count} running and ready (${selector})`,
        async () => {
          const p = runningReady(await pods(selector));
          return p.length === count && p;
        },
        timeoutMs,
      );
    /** Kills a container from outside, as a crash or the OOM killer would. */
    const killContainer = (p: PodView) => {
      const id = p.status.containerStatuses![0].containerID!.replace(/^\w+:\/\//, '');
      if (runtime === 'docker') engine!.docker(['kill', id]);
      else process.kill(Number(readFileSync(join(dataDir, 'nodes', p.spec.nodeName!, 'containers', id, 'pid'), 'utf8')), 'SIGKILL');
    };
    /** True when nothing of the container is left: no process, no Docker container. */
    const gone = (p: PodView) => {
      const id = p.status.containerStatuses![0].containerID!.replace(/^\w+:\/\//, '');
      if (runtime === 'docker') return engine!.docker(['ps', '-aq', '--filter', `id=${id}`]).trim() === '';
      return !existsSync(join(dataDir, 'nodes', p.spec.nodeName!, 'containers', id));
    };

    const deployment = (name: string, replicas: number, message: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: main
          image: ${image}
          command: ["sh", "-c", "echo \\"$MESSAGE from $(POD_NAME)\\"; while true; do echo tick; sleep 0.3; done"]
          env:
            - { name: MESSAGE, value: "${message}" }
            - name: POD_NAME
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
`;

    it('registers both nodes Ready, each with its pod range', async () => {
      const nodes = JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as {
        items: {
          metadata: { name: string };
          spec: { podCIDR: string };
          status: { conditions: { type: string; status: string }[]; nodeInfo: { containerRuntimeVersion: string } };
        }[];
      };
      expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['local-0', 'local-1']);
      // A /24 each, cut from the cluster range skiff up was given.
      const clusterPrefix = cluster.clusterCidr.split('.').slice(0, 2).join('\\.');
      for (const n of nodes.items) {
        expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
        expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(new RegExp(`^${runtime}://`));
        expect(n.spec.podCIDR).toMatch(new RegExp(`^${clusterPrefix}\\.\\d+\\.0/24$`));
      }
      expect(new Set(nodes.items.map((n) => n.spec.podCIDR)).size).toBe(2);
    });

    it('a 3-replica Deployment becomes 3 Running pods spread over the nodes; logs and logs -f show their output', async () => {
      await apply(deployment('hello', 3, 'hello'));
      const list = await ready('app=hello', 3);
      expect(new Set(list.map((p) => p.spec.nodeName))).toEqual(new Set(['local-0', 'local-1']));
      expect(new Set(list.map((p) => p.status.podIP)).size).toBe(3);
      // Each pod's address is in its node's range.
      const ranges = Object.fromEntries(
        (JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as { items: { metadata: { name: string }; spec: { podCIDR: string } }[] }).items.map((n) => [
          n.metadata.name,
          n.spec.podCIDR.replace(/0\/24$/, ''),
        ]),
      );
      for (const p of list) expect(p.status.podIP?.startsWith(ranges[p.spec.nodeName as string])).toBe(true);
      const name = list[0].metadata.name;
      const logs = await eventually('logs', async () => {
        const text = await kubectl('logs', name);
        return text.includes('tick') && text;
      });
      expect(logs.split('\n')[0]).toBe(`hello from ${name}`);
      expect(await kubectl('logs', name, '--tail=1')).toBe('tick\n');
      // Following: lines keep arriving after the command started, until we stop it.
      const started = Date.now();
      const followed = await cluster.kubectl(['logs', '-f', name, '--tail=1'], { timeoutMs: 2000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(followed.stdout.split('\n').filter((l) => l === 'tick').length).toBeGreaterThanOrEqual(4);
      const stamped = await kubectl('logs', name, '--timestamps', '--tail=1');
      expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\S+Z tick\n$/);
    });

    it('scales to 5 and back to 3', async () => {
      await kubectl('scale', 'deployment/hello', '--replicas=5');
      await eventually('5 running', async () => runningReady(await pods('app=hello')).length === 5);
      await kubectl('scale', 'deployment/hello', '--replicas=3');
      await eventually('3 left', async () => (await pods('app=hello')).length === 3 && runningReady(await pods('app=hello')).length === 3);
    });

    it(`resolves a Service's name through cluster DNS (${runtime === 'docker' ? "through the pod's resolv.conf" : "asked directly: process pods share the host's resolver"})`, async () => {
      await kubectl('create', 'service', 'clusterip', 'names', '--tcp=80:8080');
      const ip = (await kubectl('get', 'svc', 'names', '-o', 'jsonpath={.spec.clusterIP}')).trim();
      const dnsIP = (await kubectl('get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}')).trim();
      expect(dnsIP).toBe(`${cluster.servicePrefix}.10`);
      // Through the pod's resolv.conf (docker), or at the DNS Service's address (process pods share the host's resolver).
      const args = runtime === 'docker' ? ['nslookup', 'names.default.svc.cluster.local'] : ['nslookup', 'names.default.svc.cluster.local', dnsIP];
      await kubectl('run', 'dns-probe', `--image=${image}`, '--restart=Never', '--command', '--', ...(runtime === 'docker' ? args : ['busybox', ...args]));
      await eventually('the lookup done', async () => ['Succeeded', 'Failed'].includes((await pod('dns-probe')).status.phase ?? ''));
      const out = await kubectl('logs', 'dns-probe');
      expect(out).toContain(ip);
      await kubectl('delete', 'pod', 'dns-probe', '--wait=false');
    });

    it('a changed template rolls out (rollout status completes), and rollout undo brings the old one back', async () => {
      await kubectl('set', 'env', 'deployment/hello', 'MESSAGE=bonjour');
      const status = await cluster.kubectl(['rollout', 'status', 'deployment/hello', '--timeout=60s']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('successfully rolled out');
      const after = runningReady(await pods('app=hello'));
      expect(after).toHaveLength(3);
      const name = after[0].metadata.name;
      await eventually('new greeting', async () => (await kubectl('logs', name)).startsWith(`bonjour from ${name}`));
      await kubectl('rollout', 'undo', 'deployment/hello');
      expect((await cluster.kubectl(['rollout', 'status', 'deployment/hello', '--timeout=60s'])).code).toBe(0);
      const back = runningReady(await pods('app=hello'));
      expect(back).toHaveLength(3);
      await eventually('old greeting', async () => (await kubectl('logs', back[0].metadata.name)).startsWith('hello from'));
    });

    it('a container killed from outside is restarted, with restartCount 1', async () => {
      const [victim] = runningReady(await pods('app=hello'));
      killContainer(victim);
      const restarted = await eventually('restart', async () => {
        const p = await pod(victim.metadata.name);
        const s = p.status.containerStatuses?.[0];
        return s?.restartCount === 1 && s.state.running && p;
      });
      expect(restarted.metadata.uid).toBe(victim.metadata.uid);
      expect((await kubectl('logs', victim.metadata.name, '--previous')).startsWith('hello from')).toBe(true);
    });

    it('a crashing container reaches CrashLoopBackOff', async () => {
      await apply(`
apiVersion: v1
kind: Pod
metadata: { name: crasher }
spec:
  containers:
    - { name: app, image: ${image}, command: ["sh", "-c", "echo about to fail; exit 3"] }
`);
      const p = await eventually('CrashLoopBackOff', async () => {
        const got = await pod('crasher');
        return got.status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff' && got;
      });
      expect(p.status.containerStatuses![0].restartCount).toBeGreaterThanOrEqual(1);
      expect(await kubectl('get', 'pod', 'crasher')).toContain('CrashLoopBackOff');
      expect(await kubectl('logs', 'crasher')).toBe('about to fail\n');
      await kubectl('delete', 'pod', 'crasher', '--wait=true');
    });

    it('a failing readiness probe keeps a pod out of Ready; a passing one lets it in', async () => {
      const probed = (name: string, command: string) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: ${image}
      command: ["sh", "-c", "while true; do sleep 0.2; done"]
      readinessProbe:
        exec: { command: ["sh", "-c", "${command}"] }
        periodSeconds: 1
`;
      await apply(probed('never-ready', 'exit 1'));
      await apply(probed('ready', 'exit 0'));
      await eventually('ready pod Ready', async () => (await pod('ready')).status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      // Several probe periods later the failing one is Running but still not Ready.
      await new Promise((r) => setTimeout(r, 3000));
      const never = await pod('never-ready');
      expect(never.status.phase).toBe('Running');
      expect(never.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
      expect(never.status.containerStatuses?.[0].ready).toBe(false);
      const events = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=never-ready', '-o', 'jsonpath={.items[*].reason}');
      expect(events).toContain('Unhealthy');
      await kubectl('delete', 'pod', 'never-ready', 'ready', '--wait=true');
    });

    it('the examples run as their comments say: web servers Ready behind their probes, the batch pod Completed, the crasher backing off', async () => {
      const example = (file: string) => readFileSync(join('examples', file), 'utf8').replaceAll('busybox:1.36', image);
      await apply(example('web.yaml'));
      await apply(example('batch.yaml'));
      await apply(example('crash.yaml'));
      const web = await ready('app=web', 3, 60_000);
      for (const p of web) expect(await fetch(`http://${p.status.podIP}:8080/`).then((r) => r.text())).toBe(`hello from ${p.metadata.name}\n`);
      await eventually('batch Completed', async () => (await pod('count-to-five')).status.phase === 'Succeeded');
      expect(await kubectl('logs', 'count-to-five')).toBe('1\n2\n3\n4\n5\ndone counting\n');
      expect(await kubectl('logs', 'count-to-five', '-c', 'prepare')).toBe('preparing to count to 5\n');
      await eventually(
        'crasher in CrashLoopBackOff',
        async () => (await pod('crasher')).status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff',
        60_000,
      );
      expect(await kubectl('logs', 'crasher', '--previous')).toContain('something went wrong');
      await kubectl('delete', '-f', 'examples/web.yaml', '-f', 'examples/batch.yaml', '-f', 'examples/crash.yaml', '--wait=true');
    }, 120_000);

    it('kubectl top shows what a CPU-burning pod uses (and an idle one), and the nodes', async () => {
      const busy = (name: string, script: string) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { app: top } }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - { name: main, image: ${runtime === 'docker' ? BUSYBOX_IMAGE : 'busybox'}, command: [sh, -c, '${script}'] }
`;
      await apply(busy('burner', 'while :; do :; done'));
      await apply(busy('idler', 'sleep 3600'));
      await eventually('both Running', async () => (await pods('app=top')).filter((p) => p.status.phase === 'Running').length === 2);
      const top = await eventually(
        'both measured',
        async () => {
          const r = await cluster.kubectl(['top', 'pods', '-l', 'app=top', '--no-headers']);
          return r.code === 0 && r.stdout.includes('burner') && r.stdout.includes('idler') && r.stdout;
        },
        30_000,
      );
      const cores = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)m\\s+\\d+Mi`, 'm').exec(top)?.[1]);
      expect(cores('burner')).toBeGreaterThan(300);
      expect(cores('idler')).toBeLessThan(50);
      const nodes = await kubectl('top', 'nodes', '--no-headers');
      expect(nodes).toMatch(/^local-0\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$/m);
      expect(nodes).toMatch(/^local-1\s+/m);
      await kubectl('delete', 'pod', 'burner', 'idler', '--wait=true');
    }, 90_000);

    it("each node's last hour (metrics.skiff.dev NodeHistory): listed, and watched from a version as samples come", async () => {
      interface History {
        metadata: { name: string; resourceVersion: string };
        intervalSeconds: number;
        samples: { timestamp: string; cpu: string; memory: string }[];
      }
      const list = await eventually(
        'both nodes sampled twice',
        async () => {
          const got = JSON.parse(await kubectl('get', 'nodehistories', '-o', 'json')) as { items: History[] };
          return got.items.length === 2 && got.items.every((h) => h.samples.length >= 2) && got;
        },
        30_000,
      );
      const local0 = list.items.find((h) => h.metadata.name === 'local-0')!;
      expect(local0.intervalSeconds).toBe(1);
      const times = local0.samples.map((s) => Date.parse(s.timestamp));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      // Its version is its newest sample's time, in ms (the timestamps are to the second).
      expect(Math.floor(Number(local0.metadata.resourceVersion) / 1000) * 1000).toBe(times.at(-1));
      for (const s of local0.samples) {
        expect(s.cpu).toMatch(/^\d+n$/);
        expect(Number(s.memory.replace('Ki', ''))).toBeGreaterThan(0);
      }
      // A watch from the list's version brings each node again once it has a newer sample, then
      // bookmarks; a name not there is a 404 in metrics-server's words.
      const watched = await kubectl(
        'get',
        '--raw',
        `/apis/metrics.skiff.dev/v1alpha1/nodehistories?watch=1&allowWatchBookmarks=true&timeoutSeconds=4&resourceVersion=${local0.metadata.resourceVersion}`,
      );
      const events = watched
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; object: History });
      const modified = events.filter((e) => e.type === 'MODIFIED' && e.object.metadata.name === 'local-0');
      // A sample a second for four seconds: two at least, the later read from what the watch held.
      expect(modified.length).toBeGreaterThanOrEqual(2);
      expect(Number(modified[0].object.metadata.resourceVersion)).toBeGreaterThan(Number(local0.metadata.resourceVersion));
      // Each event is the whole hour, though after its first read the watch asks the kubelet only
      // for the points after those it holds: the listed samples, then newer ones, in order.
      const last = modified.at(-1)!.object.samples.map((s) => Date.parse(s.timestamp));
      expect(last.slice(0, times.length)).toEqual(times);
      expect(last.length).toBeGreaterThan(times.length);
      expect(last).toEqual([...last].sort((a, b) => a - b));
      // A read that finds no new point keeps the node as it was: nothing is deleted.
      expect(events.filter((e) => e.type === 'DELETED')).toEqual([]);
      expect(events.some((e) => e.type === 'BOOKMARK')).toBe(true);
      // kubectl's table: the newest figures as `kubectl top` prints them, and how much is kept.
      expect(await kubectl('get', 'nodehistories')).toMatch(/^local-0\s+\d+m\s+\d+Mi\s+\d+\s+1s\s+\d+s$/m);
      const missing = await cluster.kubectl(['get', 'nodehistory', 'nowhere']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('nodehistories.metrics.skiff.dev "nowhere" not found');
    }, 60_000);

    // The process runtime only: the same loop on docker would burn the CI machine's two cores twice as long.
    if (runtime === 'process')
      it('kubectl autoscale: an HPA scales a CPU-burning Deployment from 1 to 3, and back to 1 once it idles', async () => {
        await apply(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: spin }
spec:
  replicas: 1
  selector: { matchLabels: { app: spin } }
  template:
    metadata: { labels: { app: spin } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'end=$(( $(date +%s) + 12 )); while [ $(date +%s) -lt $end ]; do :; done; exec sleep 3600']
        resources: { requests: { cpu: 100m } }
`);
        expect((await kubectl('autoscale', 'deployment', 'spin', '--min=1', '--max=3', '--cpu-percent=50')).trim()).toBe(
          'horizontalpodautoscaler.autoscaling/spin autoscaled',
        );
        const replicas = async () => Number(await kubectl('get', 'deployment', 'spin', '-o', 'jsonpath={.spec.replicas}'));
        await eventually('scaled up to 3', async () => (await replicas()) === 3, 40_000);
        expect(await kubectl('get', 'hpa', 'spin')).toMatch(/^spin\s+Deployment\/spin\s+cpu: \d+%\/50%\s+1\s+3\s+\d+\s+\d+s$/m);
        await eventually('back to 1 once idle', async () => (await replicas()) === 1, 60_000);
        const events = await kubectl(
          'get',
          'events',
          '--field-selector',
          'involvedObject.name=spin,reason=SuccessfulRescale',
          '-o',
          'jsonpath={.items[*].message}',
        );
        expect(events).toContain('New size: 3; reason: cpu resource utilization (percentage of request) above target');
        expect(events).toContain('New size: 1; reason: cpu resource utilization (percentage of request) below target');
        await kubectl('delete', 'hpa', 'spin');
        await kubectl('delete', 'deployment', 'spin', '--wait=true');
        await eventually('its pods gone', async () => (await pods('app=spin')).length === 0);
      }, 120_000);

    it('delete leaves no process or container behind', async () => {
      await apply(deployment('doomed', 2, 'doomed'));
      const list = await ready('app=doomed', 2);
      await kubectl('delete', 'deployment', 'doomed');
      await eventually('pods gone', async () => (await pods('app=doomed')).length === 0);
      for (const p of list) expect(gone(p)).toBe(true);
    });

    it('a killed kubelet makes its node NotReady and its pods come back on the other node', async () => {
      const kubeletPid = Number(
        execFileSync('pgrep', ['-f', `kubelet/main.ts .*--data-dir ${join(dataDir, 'nodes', 'local-1')}`], { encoding: 'utf8' })
          .trim()
          .split('\n')[0],
      );
      expect(kubeletPid).toBeGreaterThan(0);
      process.kill(kubeletPid, 'SIGKILL');
      await eventually(
        'local-1 NotReady',
        async () => (await kubectl('get', 'node', 'local-1', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')) === 'Unknown',
      );
      const moved = await eventually(
        '3 running on local-0',
        async () => {
          const p = runningReady(await pods('app=hello'));
          return p.length === 3 && p.every((x) => x.spec.nodeName === 'local-0') && p;
        },
        60_000,
      );
      expect(moved).toHaveLength(3);
    }, 90_000);

    it('stopping and restarting skiff up keeps the Deployment and its pods, and leaves nothing running while stopped', async () => {
      const before = runningReady(await pods('app=hello'));
      expect(await cluster.stop()).toBe(0);
      for (const p of before) expect(gone(p)).toBe(true);
      if (runtime === 'process') {
        for (const node of ['local-0', 'local-1']) {
          const containers = join(dataDir, 'nodes', node, 'containers');
          expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
        }
      } else {
        expect(engine!.docker(['ps', '-q']).trim()).toBe('');
      }
      cluster = await startSkiffUp(dataDir, [...FAST, '--nodes', '2', '--runtime', runtime, ...(engine ? ['--docker-socket', engine.socketPath] : [])]);
      const after = await ready('app=hello', 3, 60_000);
      expect(after.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
      // The Deployment's status follows its pods a moment later.
      await eventually('hello available 3', async () => (await kubectl('get', 'deployment', 'hello', '-o', 'jsonpath={.status.availableReplicas}')) === '3');
    }, 120_000);
  });
}
