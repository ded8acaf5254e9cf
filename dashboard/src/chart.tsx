/**
 * A line chart over time, drawn by uPlot on a canvas (its module loaded when a chart is first
 * shown, so the first paint does not wait for it). A canvas says nothing to a screen reader: the
 * figure's caption says what matters in words (now, and the peak), and the chart is an image
 * labelled so. Colours are the page's own, read from CSS as they are computed (a canvas takes no
 * custom properties), and read again when the theme changes.
 */
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';

export interface ChartLine {
  label: string;
  values: (number | null)[];
  /** A limit (allocatable) rather than a measure: drawn dashed, in the muted colour. */
  limit?: boolean;
}

interface Props {
  /** Names the chart (its accessible name). */
  label: string;
  /** Seconds since the epoch. */
  times: number[];
  lines: ChartLine[];
  /** How a value reads on the axis and in the caption. */
  format: (n: number) => string;
}

const HEIGHT = 160;

function colours(el: HTMLElement): { fg: string; line: string; muted: string; grid: string } {
  const probe = (cls: string) => {
    const span = document.createElement('span');
    span.className = cls;
    el.appendChild(span);
    const colour = getComputedStyle(span).color;
    span.remove();
    return colour;
  };
  return { fg: probe('chart-fg'), line: probe('chart-line'), muted: probe('chart-muted'), grid: probe('chart-grid') };
}

export function TimeChart({ label, times, lines, format }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  const latest = useRef({ times, lines });
  latest.current = { times, lines };
  const data = (): uPlot.AlignedData => [latest.current.times, ...latest.current.lines.map((l) => l.values)];
  const shape = lines.map((l) => `${l.label}:${l.limit ? 1 : 0}`).join(',');

  // Made once its module is in (and again when the theme or the lines change), sized to its box.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let gone = false;
    let resize: ResizeObserver | undefined;
    const make = (UPlot: typeof uPlot) => {
      if (gone) return;
      plot.current?.destroy();
      const c = colours(el);
      const axis = { stroke: c.fg, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
      plot.current = new UPlot(
        {
          width: Math.max(200, el.clientWidth),
          height: HEIGHT,
          legend: { show: false },
          cursor: { show: false },
          scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
          axes: [axis, { ...axis, size: 84, values: (_u, ticks) => ticks.map(format) }],
          series: [
            {},
            ...latest.current.lines.map((l) => ({
              label: l.label,
              stroke: l.limit ? c.muted : c.line,
              width: l.limit ? 1 : 2,
              dash: l.limit ? [6, 4] : undefined,
              fill: l.limit ? undefined : c.line.replace(/^rgb\((.*)\)$/, 'rgba($1, 0.12)'),
              points: { show: false },
            })),
          ],
        },
        data(),
        el,
      );
    };
    let cleanup = () => undefined as void;
    void import('uplot').then(({ default: UPlot }) => {
      make(UPlot);
      resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
      resize.observe(el);
      // The theme: chosen on the page (data-theme), or the system's.
      const again = () => make(UPlot);
      const themes = new MutationObserver(again);
      themes.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
      const system = matchMedia('(prefers-color-scheme: dark)');
      system.addEventListener('change', again);
      cleanup = () => {
        themes.disconnect();
        system.removeEventListener('change', again);
      };
    });
    return () => {
      gone = true;
      resize?.disconnect();
      cleanup();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape]);

  // New figures: the same chart, its data swapped.
  useEffect(() => plot.current?.setData(data()), [times, lines]);

  const measured = lines.find((l) => !l.limit);
  const values = (measured?.values ?? []).filter((v): v is number => v !== null);
  const limit = lines.find((l) => l.limit)?.values.at(-1);
  const minutes = times.length > 1 ? Math.round((times[times.length - 1] - times[0]) / 60) : 0;
  return (
    <figure class="chart" data-points={times.length}>
      <div ref={box} role="img" aria-label={label} />
      <figcaption>
        {label}: {values.length ? format(values[values.length - 1]) : 'no figures'} now
        {limit != null && ` of ${format(limit)}`}
        {values.length > 1 && `, at most ${format(Math.max(...values))} over the last ${minutes < 1 ? 'minute' : `${minutes} min`}`}
      </figcaption>
    </figure>
  );
}
