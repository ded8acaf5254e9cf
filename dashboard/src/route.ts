/** Where the dashboard is: a view, and the object it shows (`/dashboard/pods/default/web-1`). */
import type { Client } from './api.js';

export interface Route {
  view: string;
  namespace?: string;
  name?: string;
}

const BASE = '/dashboard/';

export function parseRoute(pathname: string): Route {
  const [view = 'overview', namespace, name] = pathname.slice(BASE.length).split('/').filter(Boolean).map(decodeURIComponent);
  return { view, namespace, name };
}

export function hrefOf(route: Route): string {
  return (
    BASE +
    [route.view, route.namespace, route.name]
      .filter((p) => p !== undefined)
      .map(encodeURIComponent)
      .join('/')
  );
}

export function navigate(route: Route): void {
  history.pushState(null, '', hrefOf(route));
  dispatchEvent(new PopStateEvent('popstate'));
}

/** What every view is given. */
export interface ViewProps {
  client: Client;
  namespace: string;
  filter: string;
  route: Route;
}

/** Whether a key goes to a field being typed in (an input, a text area, a select, the YAML editor), not to the page's shortcuts. */
export const typingIn = (target: EventTarget | null): boolean => {
  let t = target;
  // A field in a shadow root (the YAML editor's): a key's target, seen from the page, is its host.
  while (t instanceof HTMLElement && t.shadowRoot?.activeElement) t = t.shadowRoot.activeElement;
  return (
    t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || (t instanceof HTMLElement && t.isContentEditable)
  );
};
