/**
 * The dashboard's shell: sign-in with a bearer token (kept for the tab's life in
 * sessionStorage; `skiff dashboard` prints a link that carries one in its fragment, which never
 * reaches a server) or with the cluster's OpenID Connect issuer when the API names one (oidc.ts),
 * the navigation, the namespace and the filter, keyboard navigation as k9s
 * users expect (`/` filter, `j`/`k` move, `l` logs, `Enter` open, `Escape` back), dark and light.
 * Views live in views.tsx and detail.tsx; every one is a client of the public API only.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, Client, pathOf, RESOURCES, TOKEN_KEY } from './api.js';
import { CreateView, DeploymentDetail, NodeDetail, PodDetail, WorkloadDetail } from './detail.js';
import { stopAll, useCollection } from './informer.js';
import { EventsView, NamespacesView, NodesView, OverviewView, PodsView, WorkloadsView } from './views.js';
import { hrefOf, navigate, parseRoute, typingIn, type ViewProps } from './route.js';
import { expiryOf, finishOidcSignIn, forgetOidc, type OidcSignIn, oidcSignIn, refreshOidc, startOidcSignIn } from './oidc.js';
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';

/** Workload pages of kinds other than Deployments (`/dashboard/statefulsets/<ns>/<name>`), under Workloads. */
const OTHER_WORKLOADS = ['statefulsets', 'daemonsets', 'jobs', 'cronjobs'];

const NAV: { view: string; label: string }[] = [
  { view: 'overview', label: 'Overview' },
  { view: 'workloads', label: 'Workloads' },
  { view: 'pods', label: 'Pods' },
  { view: 'nodes', label: 'Nodes' },
  { view: 'namespaces', label: 'Namespaces' },
  { view: 'events', label: 'Events' },
  { view: 'create', label: 'Create' },
];

function SignIn({ onSignedIn, error, oidc }: { onSignedIn: (client: Client, user: string) => void; error?: string; oidc?: OidcSignIn }) {
  const [token, setToken] = useState('');
  const [message, setMessage] = useState(error);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const client = new Client(token.trim());
    try {
      const user = await client.whoami();
      sessionStorage.setItem(TOKEN_KEY, client.token);
      onSignedIn(client, user);
    } catch (err) {
      setMessage(err instanceof ApiError && err.code === 401 ? 'That token is not valid for this cluster.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Skiff</h1>
      {oidc && (
        <p>
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              startOidcSignIn(oidc).catch((err: Error) => {
                setMessage(err.message);
                setBusy(false);
              });
            }}
          >
            Sign in with {new URL(oidc.issuer).host}
          </button>
        </p>
      )}
      <form onSubmit={submit}>
        <label for="token">Bearer token</label>
        <input id="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        {message && (
          <p class="error" role="alert">
            {message}
          </p>
        )}
      </form>
      <p class="hint">
        <code>npm run skiff -- dashboard</code> prints a sign-in link for the local cluster.
      </p>
    </main>
  );
}

function Shell({ client, user, onSignOut }: { client: Client; user: string; onSignOut: () => void }) {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  const [namespace, setNamespace] = useState('');
  const [filter, setFilter] = useState('');
  const [theme, setTheme] = useState(() => localStorage.getItem('skiff.theme') ?? '');
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(location.pathname));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  // A list's address may name a namespace (`/dashboard/pods/kube-system`, a namespace opened): it is the one shown.
  useEffect(() => {
    if (route.namespace && !route.name && route.view !== 'nodes') setNamespace(route.namespace);
  }, [route]);
  useEffect(() => {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
    localStorage.setItem('skiff.theme', theme);
  }, [theme]);
  // A link to another view is followed in the page (no reload: the live collections and their
  // watches carry on), as the navigation's own links are; a click with a modifier opens a tab.
  useEffect(() => {
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element | null)?.closest?.('a');
      if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin || !a.pathname.startsWith('/dashboard/')) return;
      e.preventDefault();
      navigate(parseRoute(a.pathname));
    };
    addEventListener('click', onClick);
    return () => removeEventListener('click', onClick);
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = typingIn(e.target);
      if (e.key === '/' && !typing) {
        e.preventDefault();
        document.getElementById('filter')?.focus();
      } else if (e.key === 'Escape') {
        if (typing) (e.target as HTMLElement).blur();
        else if (route.name) history.back();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [route]);
  const props: ViewProps = { client, namespace, filter, route };
  const view = useMemo(() => {
    if (route.view === 'pods' && route.name) return <PodDetail {...props} />;
    if (route.view === 'workloads' && route.name) return <DeploymentDetail {...props} />;
    if (OTHER_WORKLOADS.includes(route.view) && route.name) return <WorkloadDetail {...props} />;
    // A node's own page: cluster-scoped, its name is the path's one part after the view.
    if (route.view === 'nodes' && (route.name ?? route.namespace)) return <NodeDetail {...props} />;
    switch (route.view) {
      case 'workloads':
        return <WorkloadsView {...props} />;
      case 'pods':
        return <PodsView {...props} />;
      case 'nodes':
        return <NodesView {...props} />;
      case 'events':
        return <EventsView {...props} />;
      case 'namespaces':
        return <NamespacesView {...props} />;
      case 'create':
        return <CreateView {...props} />;
      default:
        return <OverviewView {...props} />;
    }
  }, [route, namespace, filter, client]);
  return (
    <div class="shell">
      <header>
        <a class="brand" href={hrefOf({ view: 'overview' })}>
          Skiff
        </a>
        <span class="field">
          <label for="namespace">Namespace</label>
          <NamespacePicker client={client} value={namespace} onChange={setNamespace} />
        </span>
        <label class="field grow">
          <span>Filter</span>
          <input id="filter" type="search" placeholder="/ to filter" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
        <button
          type="button"
          class="plain"
          onClick={() => setTheme(theme === 'dark' ? 'light' : theme === 'light' ? '' : 'dark')}
          title="Dark, light or as the system"
        >
          Theme: {theme || 'system'}
        </button>
        <span class="user" title="Signed in as">
          {user}
        </span>
        <button type="button" class="plain" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Views">
        {NAV.map((n) => (
          <a
            key={n.view}
            href={hrefOf({ view: n.view })}
            aria-current={route.view === n.view || (n.view === 'workloads' && OTHER_WORKLOADS.includes(route.view)) ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault();
              navigate({ view: n.view });
            }}
          >
            {n.label}
          </a>
        ))}
      </nav>
      <main id="main">{view}</main>
    </div>
  );
}

function NamespacePicker({ client, value, onChange }: { client: Client; value: string; onChange: (ns: string) => void }) {
  // The same live collection as the Namespaces view's: one watch, and a namespace made shows at once.
  const namespaces = useCollection(client, pathOf(RESOURCES.namespaces));
  const names = useMemo(() => [...namespaces.items.values()].map((n) => n.metadata.name).sort(), [namespaces.version]);
  return (
    <select id="namespace" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
      <option value="">All namespaces</option>
      {names.map((n) => (
        <option key={n} value={n}>
          {n}
        </option>
      ))}
    </select>
  );
}

/** Renews an expiring sign-in: a new ID token from the issuer a minute before the old one's end, or the session ends. */
function useRenewal(session: { client: Client } | undefined, end: (why: string) => void): void {
  useEffect(() => {
    if (!session) return;
    let timer: ReturnType<typeof setTimeout>;
    const plan = () => {
      const expires = expiryOf(session.client.token);
      if (expires === undefined) return;
      timer = setTimeout(
        async () => {
          const renewed = await refreshOidc().catch(() => undefined);
          if (!renewed) return end('Your sign-in has expired: sign in again.');
          session.client.token = renewed;
          sessionStorage.setItem(TOKEN_KEY, renewed);
          plan();
        },
        Math.max(0, Math.min(expires - Date.now() - 60_000, 2 ** 31 - 1)),
      );
    };
    plan();
    return () => clearTimeout(timer);
  }, [session]);
}

function App() {
  const [session, setSession] = useState<{ client: Client; user: string } | undefined>();
  const [error, setError] = useState<string>();
  const [checking, setChecking] = useState(true);
  const [oidc, setOidc] = useState<OidcSignIn>();
  const signOut = (why?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    forgetOidc();
    stopAll();
    setError(why);
    setSession(undefined);
  };
  useRenewal(session, signOut);
  useEffect(() => {
    oidcSignIn().then(setOidc);
    (async () => {
      // Back from the issuer: its code is exchanged for an ID token, the token signed in with.
      const fromIssuer = await finishOidcSignIn();
      if (fromIssuer) sessionStorage.setItem(TOKEN_KEY, fromIssuer);
      // A sign-in link carries its token in the fragment: taken, then wiped from the address bar.
      const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
      if (fromLink) {
        sessionStorage.setItem(TOKEN_KEY, fromLink);
        history.replaceState(null, '', location.pathname);
      }
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (!token) return;
      const client = new Client(token);
      try {
        setSession({ client, user: await client.whoami() });
      } catch (err) {
        sessionStorage.removeItem(TOKEN_KEY);
        setError(err instanceof ApiError && err.code === 401 ? 'Your token is no longer valid: sign in again.' : (err as Error).message);
      }
    })()
      .catch((err: Error) => setError(err.message))
      .finally(() => setChecking(false));
  }, []);
  if (checking) return <main class="signin" aria-busy="true" />;
  if (!session) return <SignIn onSignedIn={(client, user) => setSession({ client, user })} error={error} oidc={oidc} />;
  return <Shell client={session.client} user={session.user} onSignOut={() => signOut()} />;
}

render(<App />, document.getElementById('app')!);
