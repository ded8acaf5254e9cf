/**
 * @kubernetes/client-node, loaded at run time, with the few of its types the tests use written
 * here. The library's own declarations are 816 files; typechecking them on every `npm test`
 * bought nothing, since the tests run the real library and fail on any misuse.
 */
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}
/** `spec` is whatever the kind has: the tests read it as they expect it. */
export type KubernetesObject = { metadata?: Meta; spec?: any };
export type KubernetesList = { metadata?: Meta; items: KubernetesObject[] };
type At = { name: string; namespace: string };
type In = { namespace: string; body: object };
type Options = unknown;

export interface CoreV1Api {
  listNamespace(): Promise<KubernetesList>;
  listNamespacedConfigMap(at: { namespace: string }): Promise<KubernetesList>;
  createNamespacedConfigMap(at: In): Promise<KubernetesObject>;
  patchNamespacedConfigMap(at: At & { body: object }, options: Options): Promise<KubernetesObject>;
  deleteNamespacedConfigMap(at: At): Promise<unknown>;
}

export interface AppsV1Api {
  createNamespacedDeployment(at: In): Promise<KubernetesObject>;
  readNamespacedDeployment(at: At): Promise<KubernetesObject>;
  patchNamespacedDeployment(at: At & { body: object }, options: Options): Promise<KubernetesObject>;
  readNamespacedDeploymentScale(at: At): Promise<KubernetesObject>;
  deleteNamespacedDeployment(at: At): Promise<unknown>;
}

export interface KubeConfig {
  loadFromFile(path: string): void;
  makeApiClient<T>(api: abstract new (...args: never[]) => T): T;
}

export interface Informer {
  on(verb: 'add' | 'update' | 'delete' | 'error', listener: (arg: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): KubernetesObject[];
}

interface ClientNode {
  KubeConfig: new () => KubeConfig;
  CoreV1Api: abstract new (...args: never[]) => CoreV1Api;
  AppsV1Api: abstract new (...args: never[]) => AppsV1Api;
  Watch: new (
    kc: KubeConfig,
  ) => {
    watch(
      path: string,
      query: Record<string, unknown>,
      onEvent: (type: string, obj: KubernetesObject) => void,
      onDone: (err?: unknown) => void,
    ): Promise<{ abort(): void }>;
  };
  makeInformer(kc: KubeConfig, path: string, list: () => Promise<KubernetesList>): Informer;
  setHeaderOptions(name: string, value: string): Options;
  PatchStrategy: { MergePatch: string };
}

// A specifier TypeScript does not follow, so the library's declarations stay out of the typecheck.
const specifier: string = '@kubernetes/client-node';
export const k8s = (await import(specifier)) as ClientNode;
