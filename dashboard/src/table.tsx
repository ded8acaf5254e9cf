/**
 * A table that renders only the rows in view (and a few around), so 5,000 rows scroll and
 * filter without stutter: rows have one height, and two spacer rows stand for the rest. The
 * rows drawn move by blocks of 16, not at every scroll event: scrolling within a block is the
 * browser's alone (no render, no layout), and a block's change redraws once. It is
 * a real table (headers, rows, cells) for screen readers. `j`/`k` move the selection, `Enter`
 * opens the selected row, and `keys` adds a view's own (`l` for a pod's logs).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { typingIn } from './route.js';

export interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
  /** A narrow column of figures, right-aligned. */
  numeric?: boolean;
}

const ROW_HEIGHT = 32;
const OVERSCAN = 8;
/** The rows drawn move by this many at a time. */
const BLOCK = 16;
const BLOCK_PX = BLOCK * ROW_HEIGHT;

export function VirtualTable<T>({
  rows,
  columns,
  label,
  onOpen,
  keys = {},
  empty = 'Nothing here.',
}: {
  rows: T[];
  columns: Column<T>[];
  label: string;
  onOpen?: (row: T) => void;
  keys?: Record<string, (row: T) => void>;
  empty?: string;
}) {
  const box = useRef<HTMLElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  const [selected, setSelected] = useState(0);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setHeight(el.clientHeight || 600);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (selected >= rows.length && rows.length > 0) setSelected(rows.length - 1);
  }, [rows.length]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target;
      if (typingIn(t) || e.ctrlKey || e.metaKey || e.altKey) return;
      const move = (to: number) => {
        const next = Math.max(0, Math.min(rows.length - 1, to));
        setSelected(next);
        const el = box.current;
        if (!el) return;
        const top = next * ROW_HEIGHT;
        if (top < el.scrollTop) el.scrollTop = top;
        else if (top + ROW_HEIGHT * 2 > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT * 2 - el.clientHeight;
      };
      const row = rows[selected];
      if (e.key === 'j' || e.key === 'ArrowDown') move(selected + 1);
      else if (e.key === 'k' || e.key === 'ArrowUp') move(selected - 1);
      else if (e.key === 'Enter' && row && onOpen) onOpen(row);
      else if (row && keys[e.key]) keys[e.key](row);
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [rows, selected, onOpen, keys]);
  // The offset as the rows now allow it: a list just filtered down may be shorter than where it
  // was scrolled to (the browser clamps its scrollTop once the spacers shrink, and says so).
  // `scroll` is the top of the block in view; the rows drawn reach a block past the view's end.
  const top = Math.max(0, Math.min(scroll, Math.floor(Math.max(0, rows.length * ROW_HEIGHT - height) / BLOCK_PX) * BLOCK_PX));
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height + BLOCK_PX) / ROW_HEIGHT) + OVERSCAN);
  const visible = rows.slice(first, last);
  return (
    <section
      class="table-box"
      ref={box}
      // The same block: the same state, and no render.
      onScroll={(e) => setScroll(Math.floor((e.target as HTMLElement).scrollTop / BLOCK_PX) * BLOCK_PX)}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable from the keyboard (axe: scrollable-region-focusable)
      tabIndex={0}
      aria-label={`${label}: ${rows.length}`}
    >
      <table aria-rowcount={rows.length + 1}>
        <caption class="sr-only">{label}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.title} scope="col" class={c.numeric ? 'num' : undefined}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {first > 0 && (
            <tr class="spacer">
              <td colSpan={columns.length} style={{ height: `${first * ROW_HEIGHT}px` }} />
            </tr>
          )}
          {visible.map((row, i) => {
            const index = first + i;
            // Keyed by place, not by object: a filter that changes every row in view (or a
            // change of order) then writes new text into the rows there, where keys by object
            // would take them all out of the document and build new ones (twice the script,
            // and style worked out again for every new cell).
            return (
              <tr
                key={index}
                aria-rowindex={index + 2}
                class={index === selected ? 'selected' : undefined}
                onClick={() => setSelected(index)}
                onDblClick={() => onOpen?.(row)}
              >
                {columns.map((c) => (
                  <td key={c.title} class={c.numeric ? 'num' : undefined}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
            );
          })}
          {last < rows.length && (
            <tr class="spacer">
              <td colSpan={columns.length} style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />
            </tr>
          )}
        </tbody>
      </table>
      {rows.length === 0 && <p class="empty">{empty}</p>}
    </section>
  );
}
