/**
 * Which under-used node to consolidate, pure: a node of the provisioner's whose pods would all
 * fit in the free room of the other nodes (by requests: cpu, memory, pod count; biggest pod first
 * into the first node with room), so draining it costs a node and strands no pod. Among those,
 * the one with the fewest pods, then the least CPU asked, then by name.
 */

export interface NodeRoom {
  name: string;
  /** Allocatable millicores, bytes and pods. */
  cpu: number;
  memory: number;
  pods: number;
}

export interface PodLoad {
  node: string;
  cpu: number;
  memory: number;
  /** Made again by a controller when evicted (a pod no one owns is never moved). */
  owned: boolean;
}

/** The first of `candidates` (names) whose pods the other `nodes` can take, in the order above. */
export function consolidationCandidate(candidates: string[], nodes: NodeRoom[], pods: PodLoad[]): string | undefined {
  const on = (name: string) => pods.filter((p) => p.node === name);
  const load = (name: string) => on(name).reduce((sum, p) => sum + p.cpu, 0);
  const ordered = [...candidates].filter((name) => on(name).length > 0).sort((a, b) => on(a).length - on(b).length || load(a) - load(b) || a.localeCompare(b));
  for (const name of ordered) {
    const moving = on(name);
    if (moving.some((p) => !p.owned)) continue;
    const free = nodes
      .filter((n) => n.name !== name)
      .map((n) => {
        const used = on(n.name);
        return {
          cpu: n.cpu - used.reduce((s, p) => s + p.cpu, 0),
          memory: n.memory - used.reduce((s, p) => s + p.memory, 0),
          pods: n.pods - used.length,
        };
      });
    const fits = [...moving]
      .sort((a, b) => b.cpu - a.cpu || b.memory - a.memory)
      .every((p) => {
        const room = free.find((f) => f.cpu >= p.cpu && f.memory >= p.memory && f.pods >= 1);
        if (!room) return false;
        room.cpu -= p.cpu;
        room.memory -= p.memory;
        room.pods -= 1;
        return true;
      });
    if (fits) return name;
  }
  return undefined;
}
