/**
 * One object at a time: a pod (its status, containers and live logs), a Deployment (scale,
 * restart, pause and resume, its revisions with the template diff shown before a rollback, its
 * YAML edited and applied with server-side apply after a dry-run diff), and creating objects
 * from pasted YAML. Validation errors and conflicts come back from the API and show inline.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parseAllDocuments, stringify } from 'yaml';
import { ApiError, CHANNEL, type Client, endedWords, type KubeObject, openSocket, pathOf, RESOURCES, sendOnChannel } from './api.js';
import type { YamlEditorView } from './codemirror.js';
import { useCollection } from './informer.js';
import { age, nodeReady, podReady, podStatus, restarts } from './kube.js';
import { hrefOf, navigate, type ViewProps } from './route.js';
import { Failure, jobStatus, UsageCard, useAction, useCan, type WORKLOAD_KINDS } from './views.js';

const FIELD_MANAGER = 'skiff-dashboard';
const MAX_LOG_CHARS = 2_000_000;

/** A line diff (longest common subsequence), as `diff -u` shows lines: kept, removed, added. */
export function diffLines(before: string, after: string): { op: ' ' | '-' | '+'; text: string }[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: { op: ' ' | '-' | '+'; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) out.push({ op: '+', text: b[j++] });
    else out.push({ op: '-', text: a[i++] });
  }
  return out;
}

function Diff({ before, after, label }: { before: string; after: string; label: string }) {
  const lines = useMemo(() => diffLines(before, after), [before, after]);
  const changed = lines.some((l) => l.op !== ' ');
  return (
    <figure class="diff">
      <figcaption>{label}</figcaption>
      {!changed ? (
        <p>No change.</p>
      ) : (
        <pre
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable from the keyboard (axe: scrollable-region-focusable)
          tabIndex={0}
        >
          {lines.map((l, n) => (
            <span key={n} class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : undefined}>
              {l.op} {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      )}
    </figure>
  );
}

function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return String((err as Error)?.message ?? err);
  const causes = err.causes.filter((c) => c.message).map((c) => `${c.field ? `${c.field}: ` : ''}${c.message}`);
  return causes.length && !causes.every((c) => err.message.includes(c)) ? `${err.message}\n${causes.join('\n')}` : err.message;
}

/** Where a document's kind is served: asked of discovery once per group version. */
const discovered = new Map<string, Promise<{ name: string; kind: string; namespaced: boolean }[]>>();
async function resourceOf(client: Client, apiVersion: string, kind: string): Promise<{ path: (ns?: string, name?: string) => string; namespaced: boolean }> {
  let list = discovered.get(apiVersion);
  if (!list) {
    list = client
      .get<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`)
      .then((l) => l.resources);
    discovered.set(apiVersion, list);
    list.catch(() => discovered.delete(apiVersion));
  }
  const r = (await list).find((x) => x.kind === kind && !x.name.includes('/'));
  if (!r) throw new Error(`the cluster serves no ${kind} in ${apiVersion}`);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return { path: (ns, name) => pathOf({ group, version, resource: r.name }, r.namespaced ? ns || 'default' : undefined, name), namespaced: r.namespaced };
}

/** Server-side apply of one document (`dryRun`: what it would make), answering the object. */
async function apply(client: Client, doc: KubeObject, dryRun: boolean): Promise<KubeObject> {
  if (!doc?.apiVersion || !doc.kind || !doc.metadata?.name) throw new Error('each document needs apiVersion, kind and metadata.name');
  const r = await resourceOf(client, doc.apiVersion, doc.kind);
  const query = `fieldManager=${FIELD_MANAGER}&force=true${dryRun ? '&dryRun=All' : ''}`;
  return client.request<KubeObject>(
    'PATCH',
    `${r.path(doc.metadata.namespace, doc.metadata.name)}?${query}`,
    JSON.stringify(doc),
    'application/apply-patch+yaml',
  );
}

/** An object as YAML to edit: without what the server owns (managed fields, status). */
function editable(o: KubeObject): string {
  const {
    managedFields: _m,
    resourceVersion: _r,
    uid: _u,
    generation: _g,
    creationTimestamp: _c,
    ...metadata
  } = o.metadata as KubeObject['metadata'] & {
    managedFields?: unknown;
  };
  return stringify({ apiVersion: o.apiVersion, kind: o.kind, metadata, spec: o.spec });
}

function parseDocs(text: string): KubeObject[] {
  const docs = parseAllDocuments(text);
  for (const d of docs) if (d.errors.length) throw new Error(`YAML: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS() as KubeObject).filter((d) => d !== null && d !== undefined);
}

/**
 * CodeMirror's YAML editor (dashboard/src/codemirror.ts) in a shadow root of its own, loaded at
 * the first use; `text` put in when it changes (another object to edit), never when it is only
 * the editor's own text coming back. Its edits are told to `onChange`, which should not render
 * at each key (a render at each of a fast typist's keys held the page's input in Chromium).
 */
function CodeEditor({ label, text, onChange }: { label: string; text: string; onChange: (text: string) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<YamlEditorView>();
  // What the editor is made with, when its code has loaded: the text and listener as they are then.
  const latest = useRef({ text, onChange });
  latest.current = { text, onChange };
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let gone = false;
    const root = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
    void import('./codemirror.js').then(({ createEditor }) => {
      if (gone) return;
      editor.current = createEditor(root, { label, text: latest.current.text, onChange: (t) => latest.current.onChange(t) });
    });
    return () => {
      gone = true;
      editor.current?.destroy();
      editor.current = undefined;
    };
  }, []);
  // A new text from outside replaces the editor's (the editor's own edits are not fed back as `text`).
  useEffect(() => {
    editor.current?.setText(text);
  }, [text]);
  return (
    <>
      <span class="editor-label" aria-hidden="true">
        {label}
      </span>
      <div class="code-editor" ref={host} />
    </>
  );
}

/** YAML to apply, with a dry-run diff first and the API's errors inline. */
export function YamlEditor({ client, initial, current, onApplied }: { client: Client; initial: string; current?: string; onApplied?: () => void }) {
  // What the editor holds, read when it is reviewed or applied: a key typed renders nothing here.
  const text = useRef(initial);
  const [error, setError] = useState<string>();
  const [preview, setPreview] = useState<{ before: string; after: string }[]>();
  const [done, setDone] = useState<string>();
  useEffect(() => {
    text.current = initial;
  }, [initial]);
  const review = async () => {
    setError(undefined);
    setDone(undefined);
    try {
      const docs = parseDocs(text.current);
      const results = await Promise.all(docs.map((d) => apply(client, d, true)));
      setPreview(results.map((r, n) => ({ before: n === 0 && current !== undefined ? current : '', after: editable(r) })));
    } catch (err) {
      setPreview(undefined);
      setError(errorText(err));
    }
  };
  const commit = async () => {
    setError(undefined);
    try {
      const docs = parseDocs(text.current);
      const made = [];
      for (const d of docs) made.push(await apply(client, d, false));
      setDone(`Applied ${made.map((m) => `${m.kind ?? ''}/${m.metadata.name}`).join(', ')}.`);
      setPreview(undefined);
      onApplied?.();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div class="editor">
      <CodeEditor
        label="YAML"
        text={initial}
        onChange={(t) => {
          text.current = t;
        }}
      />
      <div class="actions">
        <button type="button" onClick={review}>
          Review changes
        </button>
        <button type="button" class="primary" onClick={commit} disabled={!preview}>
          Apply
        </button>
      </div>
      {error && (
        <pre class="error" role="alert">
          {error}
        </pre>
      )}
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      {preview?.map((p, n) => (
        <Diff
          key={n}
          before={p.before}
          after={p.after}
          label={p.before ? 'What applying changes (a dry run on the server)' : 'What applying makes (a dry run on the server)'}
        />
      ))}
    </div>
  );
}

export function CreateView({ client }: ViewProps) {
  const canCreate = useCan(client, 'create', 'deployments', { group: 'apps', namespace: 'default' });
  return (
    <section aria-labelledby="create-title">
      <h1 id="create-title">Create from YAML</h1>
      <p>Paste one or more documents: each is applied with server-side apply after you review what it makes.</p>
      {canCreate === undefined ? null : canCreate ? <YamlEditor client={client} initial="" /> : <p class="muted">You may not create objects.</p>}
    </section>
  );
}

/** An object's conditions, as `kubectl describe` lists them. */
function Conditions({ of }: { of: KubeObject }) {
  return (
    <>
      <h2>Conditions</h2>
      <ul class="plain-list">
        {((of.status?.conditions ?? []) as { type: string; status: string; reason?: string }[]).map((c) => (
          <li key={c.type}>
            {c.type}: {c.status}
            {c.reason ? ` (${c.reason})` : ''}
          </li>
        ))}
      </ul>
    </>
  );
}

/** An object that is not there (deleted, or never was), with the way back to its list. */
function Gone({ kind, route, list }: { kind: string; route: ViewProps['route']; list: string }) {
  return (
    <section>
      <h1>
        {kind} {route.namespace}/{route.name}
      </h1>
      <p>This {kind.toLowerCase()} is gone.</p>
      <a href={hrefOf({ view: list })}>All {kind.toLowerCase()}s</a>
    </section>
  );
}

export function PodDetail({ client, route }: ViewProps) {
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  const pod = pods.items.get(`${route.namespace}/${route.name}`);
  const containers = ((pod?.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  const [container, setContainer] = useState<string>();
  const canDelete = useCan(client, 'delete', 'pods', { namespace: route.namespace });
  const canExec = useCan(client, 'create', 'pods', { namespace: route.namespace, subresource: 'exec' });
  const canPatch = useCan(client, 'patch', 'pods', { namespace: route.namespace });
  const [yaml, setYaml] = useState<string>();
  const [message, run] = useAction();
  if (!pods.synced) return <p aria-busy="true">Loading…</p>;
  if (!pod) return <Gone kind="Pod" route={route} list="pods" />;
  const r = podReady(pod);
  const chosen = container ?? containers[0];
  return (
    <section aria-labelledby="pod-title">
      <h1 id="pod-title">
        Pod {pod.metadata.namespace}/{pod.metadata.name}
      </h1>
      <Failure message={message} />
      <dl class="facts">
        <dt>Status</dt>
        <dd>{podStatus(pod)}</dd>
        <dt>Ready</dt>
        <dd>
          {r.ready}/{r.total}
        </dd>
        <dt>Restarts</dt>
        <dd>{restarts(pod)}</dd>
        <dt>Node</dt>
        <dd>{pod.spec?.nodeName ?? '—'}</dd>
        <dt>IP</dt>
        <dd>{pod.status?.podIP ?? '—'}</dd>
        <dt>Age</dt>
        <dd>{age(pod.metadata.creationTimestamp)}</dd>
      </dl>
      <Conditions of={pod} />
      <p class="actions">
        {canPatch && (
          <button type="button" onClick={() => setYaml(yaml === undefined ? editable(pod) : undefined)} aria-expanded={yaml !== undefined}>
            Edit YAML
          </button>
        )}
        {canDelete && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              run(async () => {
                await client.request('DELETE', pathOf(RESOURCES.pods, pod.metadata.namespace, pod.metadata.name));
                navigate({ view: 'pods' });
              })
            }
          >
            Delete pod
          </button>
        )}
      </p>
      {yaml !== undefined && <YamlEditor client={client} initial={yaml} current={editable(pod)} onApplied={() => setYaml(undefined)} />}
      <h2>Logs</h2>
      <label class="field">
        <span>Container</span>
        <select value={chosen} onChange={(e) => setContainer((e.target as HTMLSelectElement).value)}>
          {containers.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      {chosen && <Logs client={client} namespace={pod.metadata.namespace!} pod={pod.metadata.name} container={chosen} />}
      {chosen && canExec && <TerminalPanel client={client} namespace={pod.metadata.namespace!} pod={pod.metadata.name} container={chosen} />}
      {chosen && canExec && <Exec client={client} namespace={pod.metadata.namespace!} pod={pod.metadata.name} container={chosen} />}
    </section>
  );
}

function Logs({ client, namespace, pod, container }: { client: Client; namespace: string; pod: string; container: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [follow, setFollow] = useState(true);
  const [previous, setPrevious] = useState(false);
  const [search, setSearch] = useState('');
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const abort = new AbortController();
    setText('');
    setError(undefined);
    const query = new URLSearchParams({
      container,
      tailLines: '1000',
      ...(follow && !previous ? { follow: 'true' } : {}),
      ...(previous ? { previous: 'true' } : {}),
    });
    let pending = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    client
      .stream(
        `${pathOf(RESOURCES.pods, namespace, pod)}/log?${query}`,
        (t) => {
          pending += t;
          timer ??= setTimeout(() => {
            timer = undefined;
            const add = pending;
            pending = '';
            setText((old) => (old + add).slice(-MAX_LOG_CHARS));
          }, 50);
        },
        abort.signal,
      )
      .catch((err: Error) => {
        if (!abort.signal.aborted) setError(err.message);
      });
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [client, namespace, pod, container, follow, previous]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [text, follow]);
  const shown = search
    ? text
        .split('\n')
        .filter((l) => l.includes(search))
        .join('\n')
    : text;
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${pod}-${container}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div class="logs">
      <div class="toolbar">
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow
        </label>
        <label>
          <input type="checkbox" checked={previous} onChange={(e) => setPrevious((e.target as HTMLInputElement).checked)} /> Previous run
        </label>
        <label class="field">
          <span>Search</span>
          <input type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" onClick={download} disabled={!text}>
          Download
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-label={`Log of ${container}`}>
        <pre
          class="log"
          ref={box}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable from the keyboard (axe: scrollable-region-focusable)
          tabIndex={0}
        >
          {shown}
        </pre>
      </section>
    </div>
  );
}

/** The exec endpoint of a pod, with its query. */
const execPath = (namespace: string, pod: string, params: URLSearchParams) => `${pathOf(RESOURCES.pods, namespace, pod)}/exec?${params}`;

/** The channel protocols the API may choose from. */
const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/**
 * A terminal in the container (a TTY, as `kubectl exec -it`): xterm.js, loaded when first opened
 * (dashboard/src/terminal.ts).
 */
function TerminalPanel({ client, namespace, pod, container }: { client: Client; namespace: string; pod: string; container: string }) {
  const [command, setCommand] = useState('sh');
  const [running, setRunning] = useState(false);
  const [ended, setEnded] = useState<string>();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!running || !box.current) return;
    let session: { close(): void } | undefined;
    let live = true;
    const params = new URLSearchParams({ container, stdin: 'true', stdout: 'true', tty: 'true' });
    for (const part of command.trim().split(/\s+/)) params.append('command', part);
    void import('./terminal.js').then(({ openTerminal }) => {
      if (!live || !box.current) return;
      session = openTerminal(openSocket(client, execPath(namespace, pod, params), EXEC_PROTOCOLS), box.current, (words) => {
        if (live) setEnded(words);
      });
    });
    return () => {
      live = false;
      session?.close();
    };
  }, [running, client, namespace, pod, container]);
  return (
    <div class="terminal-panel">
      <h2>Terminal</h2>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setEnded(undefined);
          setRunning(!running);
        }}
      >
        <label for="terminal-command">Shell</label>
        <input id="terminal-command" value={command} onInput={(e) => setCommand((e.target as HTMLInputElement).value)} disabled={running} />
        <button type="submit">{running ? 'Close terminal' : 'Open terminal'}</button>
      </form>
      {running && <section class="terminal" aria-label={`Terminal in ${container}`} ref={box} />}
      {ended && <p role="status">{ended}</p>}
    </div>
  );
}

/**
 * A command in the container, as `kubectl exec -i` runs it: the exec endpoint over a WebSocket
 * (the v5 channel protocol: a byte naming the stream, then its data), each line typed sent to its
 * stdin, what it prints shown, and how it ended from the status channel. Lines, not a terminal:
 * no TTY is asked for.
 */
function Exec({ client, namespace, pod, container }: { client: Client; namespace: string; pod: string; container: string }) {
  const [command, setCommand] = useState('sh');
  const [socket, setSocket] = useState<WebSocket>();
  /** The stream is open: input typed now reaches the command. */
  const [open, setOpen] = useState(false);
  const [output, setOutput] = useState('');
  const [line, setLine] = useState('');
  const [ended, setEnded] = useState<string>();
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => () => socket?.close(), [socket]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [output]);
  const connect = (e: Event) => {
    e.preventDefault();
    const params = new URLSearchParams({ container, stdin: 'true', stdout: 'true', stderr: 'true' });
    for (const part of command.trim().split(/\s+/)) params.append('command', part);
    const ws = openSocket(client, execPath(namespace, pod, params), EXEC_PROTOCOLS);
    const decoder = new TextDecoder();
    setOutput('');
    setEnded(undefined);
    ws.onmessage = (m) => {
      const data = new Uint8Array(m.data as ArrayBuffer);
      if (data.length === 0) return;
      const text = decoder.decode(data.subarray(1), { stream: true });
      if (data[0] === CHANNEL.stdout || data[0] === CHANNEL.stderr) setOutput((o) => (o + text).slice(-MAX_LOG_CHARS));
      else if (data[0] === CHANNEL.status) setEnded(endedWords(text));
    };
    ws.onopen = () => setOpen(true);
    ws.onclose = () => {
      setOpen(false);
      setSocket(undefined);
      setEnded((x) => x ?? 'The session closed.');
    };
    setSocket(ws);
  };
  const send = (e: Event) => {
    e.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    sendOnChannel(socket, CHANNEL.stdin, new TextEncoder().encode(`${line}\n`));
    setOutput((o) => `${o}$ ${line}\n`);
    setLine('');
  };
  return (
    <div class="exec">
      <h2>Exec</h2>
      <form class="inline" onSubmit={connect}>
        <label for="exec-command">Command</label>
        <input id="exec-command" value={command} onInput={(e) => setCommand((e.target as HTMLInputElement).value)} disabled={socket !== undefined} />
        {socket ? (
          <button type="button" onClick={() => socket.close()}>
            Disconnect
          </button>
        ) : (
          <button type="submit">Run</button>
        )}
      </form>
      <section aria-label={`Exec in ${container}`}>
        <pre
          class="log"
          ref={box}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable from the keyboard (axe: scrollable-region-focusable)
          tabIndex={0}
        >
          {output}
        </pre>
      </section>
      {socket && open && (
        <form class="inline" onSubmit={send}>
          <label for="exec-input">Input</label>
          <input id="exec-input" class="grow" value={line} onInput={(e) => setLine((e.target as HTMLInputElement).value)} autocomplete="off" />
          <button type="submit">Send</button>
        </form>
      )}
      {ended && <p role="status">{ended}</p>}
    </div>
  );
}

const REVISION = 'deployment.kubernetes.io/revision';

/** A template as a revision holds it: without the hash label the ReplicaSet adds. */
function templateOf(rs: KubeObject): unknown {
  const t = structuredClone(rs.spec?.template ?? {}) as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  delete t.metadata?.labels?.['pod-template-hash'];
  return t;
}

export function DeploymentDetail({ client, route }: ViewProps) {
  const deployments = useCollection(client, pathOf(RESOURCES.deployments));
  const replicasets = useCollection(client, pathOf(RESOURCES.replicasets));
  const d = deployments.items.get(`${route.namespace}/${route.name}`);
  const path = pathOf(RESOURCES.deployments, route.namespace, route.name);
  const canPatch = useCan(client, 'patch', 'deployments', { group: 'apps', namespace: route.namespace });
  const canScale = useCan(client, 'patch', 'deployments', { group: 'apps', subresource: 'scale', namespace: route.namespace });
  const canDelete = useCan(client, 'delete', 'deployments', { group: 'apps', namespace: route.namespace });
  const [message, run] = useAction();
  const [replicas, setReplicas] = useState<string>('');
  const [yaml, setYaml] = useState<string>();
  const revisions = useMemo(
    () =>
      [...replicasets.items.values()]
        .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === d?.metadata.uid))
        .sort((a, b) => Number(b.metadata.annotations?.[REVISION] ?? 0) - Number(a.metadata.annotations?.[REVISION] ?? 0)),
    [replicasets.version, d?.metadata.uid],
  );
  if (!deployments.synced) return <p aria-busy="true">Loading…</p>;
  if (!d) return <Gone kind="Deployment" route={route} list="workloads" />;
  const merge = (body: unknown) => run(() => client.request('PATCH', path, body, 'application/merge-patch+json'));
  const currentRevision = d.metadata.annotations?.[REVISION];
  return (
    <section aria-labelledby="deployment-title">
      <h1 id="deployment-title">
        Deployment {d.metadata.namespace}/{d.metadata.name}
      </h1>
      <Failure message={message} />
      <dl class="facts">
        <dt>Ready</dt>
        <dd>
          {d.status?.readyReplicas ?? 0}/{d.spec?.replicas ?? 0}
        </dd>
        <dt>Up-to-date</dt>
        <dd>{d.status?.updatedReplicas ?? 0}</dd>
        <dt>Available</dt>
        <dd>{d.status?.availableReplicas ?? 0}</dd>
        <dt>Revision</dt>
        <dd>{currentRevision ?? '—'}</dd>
        <dt>Paused</dt>
        <dd>{d.spec?.paused ? 'yes' : 'no'}</dd>
      </dl>
      <div class="actions">
        {canScale && (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              const n = Number(replicas);
              void run(async () => {
                if (!Number.isInteger(n) || n < 0) throw new Error('Replicas must be a whole number, 0 or more.');
                await client.request('PATCH', `${path}/scale`, { spec: { replicas: n } }, 'application/merge-patch+json');
                setReplicas('');
              });
            }}
          >
            <label for="replicas">Replicas</label>
            <input
              id="replicas"
              inputMode="numeric"
              size={4}
              placeholder={String(d.spec?.replicas ?? 0)}
              value={replicas}
              onInput={(e) => setReplicas((e.target as HTMLInputElement).value)}
            />
            <button type="submit">Scale</button>
          </form>
        )}
        {canPatch && (
          <>
            <button
              type="button"
              onClick={() => merge({ spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } })}
            >
              Restart
            </button>
            <button type="button" onClick={() => merge({ spec: { paused: d.spec?.paused ? null : true } })}>
              {d.spec?.paused ? 'Resume' : 'Pause'}
            </button>
            <button type="button" onClick={() => setYaml(yaml === undefined ? editable(d) : undefined)} aria-expanded={yaml !== undefined}>
              Edit YAML
            </button>
          </>
        )}
        {canDelete && <DeleteButton client={client} path={path} run={run} />}
      </div>
      {canScale === false && canPatch === false && canDelete === false && <p class="muted">You may only view this deployment.</p>}
      {yaml !== undefined && <YamlEditor client={client} initial={yaml} current={editable(d)} onApplied={() => setYaml(undefined)} />}
      <Revisions
        client={client}
        path={path}
        current={d.spec?.template ?? {}}
        currentRevision={currentRevision}
        canPatch={canPatch}
        run={run}
        revisions={revisions.map((rs) => ({
          revision: rs.metadata.annotations?.[REVISION] ?? '?',
          name: rs.metadata.name,
          detail: `${rs.status?.replicas ?? 0} pods, ${age(rs.metadata.creationTimestamp)}`,
          template: templateOf(rs),
        }))}
      />
    </section>
  );
}

interface Revision {
  revision: string;
  name: string;
  detail: string;
  template: unknown;
}

/**
 * A workload's revisions, newest first: one chosen shows the diff from the template now to its
 * template, and (for a user who may patch the workload) rolls back to it by putting its template
 * back, as `kubectl rollout undo --to-revision` does.
 */
function Revisions({
  client,
  path,
  current,
  currentRevision,
  revisions,
  canPatch,
  run,
}: {
  client: Client;
  path: string;
  current: unknown;
  currentRevision: string | undefined;
  revisions: Revision[];
  canPatch: boolean | undefined;
  run: (what: () => Promise<unknown>) => Promise<void>;
}) {
  const [chosen, setChosen] = useState<string>();
  const target = revisions.find((r) => r.revision === chosen);
  return (
    <>
      <h2>Revisions</h2>
      <ul class="plain-list revisions">
        {revisions.map((r) => (
          <li key={r.name}>
            <button type="button" class="plain" aria-pressed={chosen === r.revision} onClick={() => setChosen(chosen === r.revision ? undefined : r.revision)}>
              Revision {r.revision}
              {r.revision === currentRevision ? ' (current)' : ''}
            </button>{' '}
            {r.name}, {r.detail}
          </li>
        ))}
      </ul>
      {target && (
        <div class="rollback">
          <Diff before={stringify(current)} after={stringify(target.template)} label={`The template now, and at revision ${chosen}`} />
          {canPatch && chosen !== currentRevision && (
            <button
              type="button"
              class="primary"
              onClick={() =>
                run(async () => {
                  await client.request('PATCH', path, [{ op: 'replace', path: '/spec/template', value: target.template }], 'application/json-patch+json');
                  setChosen(undefined);
                })
              }
            >
              Roll back to revision {chosen}
            </button>
          )}
        </div>
      )}
    </>
  );
}

/**
 * A StatefulSet's or DaemonSet's revisions: its ControllerRevisions (each holds the template as
 * the patch that puts it back), the current one the newest.
 */
function ControllerRevisions({
  client,
  owner,
  path,
  canPatch,
  run,
}: {
  client: Client;
  owner: KubeObject;
  path: string;
  canPatch: boolean | undefined;
  run: (what: () => Promise<unknown>) => Promise<void>;
}) {
  const history = useCollection(client, pathOf(RESOURCES.controllerrevisions));
  const revisions = useMemo(
    () =>
      [...history.items.values()]
        .filter((r) => r.metadata.ownerReferences?.some((o) => o.uid === owner.metadata.uid))
        .sort((a, b) => Number((b as { revision?: number }).revision ?? 0) - Number((a as { revision?: number }).revision ?? 0))
        .map((r) => {
          const template = structuredClone((r as { data?: { spec?: { template?: Record<string, unknown> } } }).data?.spec?.template ?? {});
          delete template.$patch;
          return { revision: String((r as { revision?: number }).revision ?? '?'), name: r.metadata.name, detail: age(r.metadata.creationTimestamp), template };
        }),
    [history.version, owner.metadata.uid],
  );
  if (!history.synced) return null;
  return (
    <Revisions
      client={client}
      path={path}
      current={owner.spec?.template ?? {}}
      currentRevision={revisions[0]?.revision}
      revisions={revisions}
      canPatch={canPatch}
      run={run}
    />
  );
}

/** Deletes a workload (its pods after it, in the background, as kubectl does) and goes back to the list. */
function DeleteButton({ client, path, run }: { client: Client; path: string; run: (what: () => Promise<unknown>) => Promise<void> }) {
  return (
    <button
      type="button"
      class="danger"
      onClick={() =>
        run(async () => {
          await client.request('DELETE', `${path}?propagationPolicy=Background`);
          navigate({ view: 'workloads' });
        })
      }
    >
      Delete
    </button>
  );
}

/** A workload of another kind (StatefulSet, DaemonSet, Job, CronJob): its figures, its pods, and what may be done to it. */
export function WorkloadDetail({ client, route }: ViewProps) {
  const kind = route.view as Exclude<(typeof WORKLOAD_KINDS)[number], 'deployments'>;
  const resource = RESOURCES[kind];
  const collection = useCollection(client, pathOf(resource));
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  const o = collection.items.get(`${route.namespace}/${route.name}`);
  const path = pathOf(resource, route.namespace, route.name);
  const canPatch = useCan(client, 'patch', kind, { group: resource.group, namespace: route.namespace });
  const canDelete = useCan(client, 'delete', kind, { group: resource.group, namespace: route.namespace });
  const [message, run] = useAction();
  const [yaml, setYaml] = useState<string>();
  const title = KIND_TITLE[kind];
  if (!collection.synced) return <p aria-busy="true">Loading…</p>;
  if (!o) return <Gone kind={title} route={route} list="workloads" />;
  const owned = [...pods.items.values()].filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === o.metadata.uid));
  const merge = (body: unknown) => run(() => client.request('PATCH', path, body, 'application/merge-patch+json'));
  return (
    <section aria-labelledby="workload-title">
      <h1 id="workload-title">
        {title} {o.metadata.namespace}/{o.metadata.name}
      </h1>
      <Failure message={message} />
      <dl class="facts">
        {workloadFacts(kind, o).map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="actions">
        {canPatch && kind === 'statefulsets' && (
          <button
            type="button"
            onClick={() =>
              run(() => client.request('PATCH', `${path}/scale`, { spec: { replicas: (o.spec?.replicas ?? 0) + 1 } }, 'application/merge-patch+json'))
            }
          >
            Scale up
          </button>
        )}
        {canPatch && (kind === 'statefulsets' || kind === 'daemonsets') && (
          <button
            type="button"
            onClick={() => merge({ spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } })}
          >
            Restart
          </button>
        )}
        {canPatch && (kind === 'cronjobs' || kind === 'jobs') && (
          <button type="button" onClick={() => merge({ spec: { suspend: !o.spec?.suspend } })}>
            {o.spec?.suspend ? 'Resume' : 'Suspend'}
          </button>
        )}
        {canPatch && (
          <button type="button" onClick={() => setYaml(yaml === undefined ? editable(o) : undefined)} aria-expanded={yaml !== undefined}>
            Edit YAML
          </button>
        )}
        {canDelete && <DeleteButton client={client} path={path} run={run} />}
      </div>
      {canPatch === false && canDelete === false && <p class="muted">You may only view this {title.toLowerCase()}.</p>}
      {yaml !== undefined && <YamlEditor client={client} initial={yaml} current={editable(o)} onApplied={() => setYaml(undefined)} />}
      {(kind === 'statefulsets' || kind === 'daemonsets') && <ControllerRevisions client={client} owner={o} path={path} canPatch={canPatch} run={run} />}
      <h2>Pods</h2>
      {owned.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul class="plain-list">
          {owned
            .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
            .map((p) => (
              <li key={p.metadata.name}>
                <a href={hrefOf({ view: 'pods', namespace: p.metadata.namespace, name: p.metadata.name })}>{p.metadata.name}</a> {podStatus(p)}
              </li>
            ))}
        </ul>
      )}
    </section>
  );
}

const KIND_TITLE = { statefulsets: 'StatefulSet', daemonsets: 'DaemonSet', jobs: 'Job', cronjobs: 'CronJob' } as const;

/** What a workload's page says of it, by kind. */
function workloadFacts(kind: keyof typeof KIND_TITLE, o: KubeObject): [string, string][] {
  const s = o.status ?? {};
  switch (kind) {
    case 'statefulsets':
      return [
        ['Ready', `${s.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`],
        ['Current revision', s.currentRevision ?? '—'],
        ['Update revision', s.updateRevision ?? '—'],
      ];
    case 'daemonsets':
      return [
        ['Desired', String(s.desiredNumberScheduled ?? 0)],
        ['Ready', String(s.numberReady ?? 0)],
        ['Up-to-date', String(s.updatedNumberScheduled ?? 0)],
      ];
    case 'jobs':
      return [
        ['Status', jobStatus(o)],
        ['Succeeded', `${s.succeeded ?? 0}/${o.spec?.completions ?? 1}`],
        ['Active', String(s.active ?? 0)],
        ['Failed', String(s.failed ?? 0)],
      ];
    case 'cronjobs':
      return [
        ['Schedule', o.spec?.schedule ?? ''],
        ['Suspended', o.spec?.suspend ? 'yes' : 'no'],
        ['Last schedule', s.lastScheduleTime ? `${age(s.lastScheduleTime)} ago` : 'never'],
      ];
  }
}

/** A node: its readiness, addresses, capacity and conditions, its pods; cordon, and drain (cordon, then evict its pods as kubectl drain does). */
export function NodeDetail({ client, route }: ViewProps) {
  const name = route.name ?? route.namespace ?? '';
  const nodes = useCollection(client, pathOf(RESOURCES.nodes));
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  const node = nodes.items.get(`/${name}`);
  const canPatch = useCan(client, 'patch', 'nodes');
  const canEvict = useCan(client, 'create', 'pods', { subresource: 'eviction' });
  const canSeeHistory = useCan(client, 'watch', 'nodehistories', { group: 'metrics.skiff.dev' });
  const [message, run] = useAction();
  const [draining, setDraining] = useState<string>();
  const [yaml, setYaml] = useState<string>();
  if (!nodes.synced) return <p aria-busy="true">Loading…</p>;
  if (!node) return <Gone kind="Node" route={{ view: 'nodes', name }} list="nodes" />;
  const onNode = [...pods.items.values()].filter((p) => p.spec?.nodeName === name).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const cordon = (on: boolean) =>
    client.request('PATCH', pathOf(RESOURCES.nodes, undefined, name), { spec: { unschedulable: on || null } }, 'application/merge-patch+json');
  const drain = () =>
    run(async () => {
      await cordon(true);
      // As kubectl drain: not DaemonSet pods (their controller would put them back) nor pods that have ended.
      const movable = onNode.filter(
        (p) => !p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet') && !['Succeeded', 'Failed'].includes(p.status?.phase),
      );
      const refused: string[] = [];
      for (const [n, p] of movable.entries()) {
        setDraining(`Evicting ${n + 1} of ${movable.length}: ${p.metadata.namespace}/${p.metadata.name}`);
        await client
          .request('POST', `${pathOf(RESOURCES.pods, p.metadata.namespace, p.metadata.name)}/eviction`, {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
          })
          .catch((err: Error) => refused.push(`${p.metadata.name}: ${err.message}`));
      }
      setDraining(undefined);
      if (refused.length) throw new Error(`Not evicted (try again once the disruption budget allows):\n${refused.join('\n')}`);
    });
  const addresses = ((node.status?.addresses ?? []) as { type: string; address: string }[]).map((a) => `${a.type} ${a.address}`).join(', ');
  return (
    <section aria-labelledby="node-title">
      <h1 id="node-title">Node {name}</h1>
      <Failure message={message} />
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          {nodeReady(node) ? 'Ready' : 'NotReady'}
          {node.spec?.unschedulable ? ', SchedulingDisabled' : ''}
        </dd>
        <dt>Addresses</dt>
        <dd>{addresses || '—'}</dd>
        <dt>Allocatable</dt>
        <dd>
          {node.status?.allocatable?.cpu ?? '?'} CPU, {node.status?.allocatable?.memory ?? '?'} memory, {node.status?.allocatable?.pods ?? '?'} pods
        </dd>
        <dt>Age</dt>
        <dd>{age(node.metadata.creationTimestamp)}</dd>
      </dl>
      <div class="actions">
        {canPatch && (
          <button type="button" onClick={() => run(() => cordon(!node.spec?.unschedulable))}>
            {node.spec?.unschedulable ? 'Uncordon' : 'Cordon'}
          </button>
        )}
        {canPatch && canEvict && (
          <button type="button" class="danger" onClick={drain} disabled={draining !== undefined}>
            Drain
          </button>
        )}
        {canPatch && (
          <button type="button" onClick={() => setYaml(yaml === undefined ? editable(node) : undefined)} aria-expanded={yaml !== undefined}>
            Edit YAML
          </button>
        )}
      </div>
      {yaml !== undefined && <YamlEditor client={client} initial={yaml} current={editable(node)} onApplied={() => setYaml(undefined)} />}
      {draining && <p role="status">{draining}</p>}
      {canSeeHistory && <UsageCard client={client} nodes={[node]} node={name} />}
      <Conditions of={node} />
      <h2>Pods ({onNode.length})</h2>
      <ul class="plain-list">
        {onNode.map((p) => (
          <li key={`${p.metadata.namespace}/${p.metadata.name}`}>
            <a href={hrefOf({ view: 'pods', namespace: p.metadata.namespace, name: p.metadata.name })}>
              {p.metadata.namespace}/{p.metadata.name}
            </a>{' '}
            {podStatus(p)}
          </li>
        ))}
      </ul>
    </section>
  );
}
