/**
 * Dashboard benchmark (issue 16), in Debian's Chromium through playwright-core, against the
 * embedded API in another process holding 5,000 running pods on 50 nodes while 20 pods a second
 * change (bench/dashboard/server.ts):
 *
 * - first meaningful paint: from navigation to the pod list's first rows on screen (the list of
 *   5,000 fetched and rendered), and to the overview's nodes, each a fresh tab, medians of 7;
 * - scrolling the 5,000-row list from top to bottom, 200 px a frame, five times: the longest frame
 *   and the 99th percentile (medians of the passes), and each pass's frames and tasks over 50 ms
 *   (PerformanceObserver `longtask`), beside the same scroll over an empty box after each pass;
 * - filtering as one types (`web-01`, a key each 150 ms, then erased): the longest input event,
 *   from the key to the next paint (Event Timing), and the frames over 50 ms;
 * - the page's JavaScript heap and DOM nodes after all that (Chrome's own metrics);
 * - how many watches the page opened per resource.
 *
 *   npx tsx bench/dashboard/run.ts [--quick]
 *
 * SKIFF_BENCH_TRACE=scroll.json keeps Chrome's timeline of the scroll (with a CPU profile), for
 * DevTools' Performance panel; SKIFF_DASHBOARD_MINIFY=0 builds the page unminified, so its
 * functions keep their names there.
 */
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/chromium.js';
import { startBenchServer, type Target } from '../support/server.js';
import { machineInfo, markdownTable, median, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const PODS = quick ? 1000 : 5000;
const LOADS = quick ? 3 : 7;
/** Scrolls from top to bottom, each followed by the machine's floor. */
const PASSES = quick ? 1 : 5;
const ROWS = '.table-box tbody tr:not(.spacer)';

/** Shown: at least `count` elements match `selector` (a function, not a string: the page's CSP allows no eval). */
const shown = (page: Page, selector: string, count: number) =>
  page.waitForFunction(([sel, n]) => document.querySelectorAll(sel as string).length >= (n as number), [selector, count] as const, {
    timeout: 60_000,
    polling: 'raf',
  });

/** Milliseconds from navigation until `count` elements match `selector`, in a fresh tab. */
async function paintTime(browser: Browser, url: string, selector: string, count: number): Promise<number> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await shown(page, selector, count);
    return await page.evaluate(() => performance.now());
  } finally {
    await context.close();
  }
}

interface Scroll {
  maxFrame: number;
  p99Frame: number;
  /** Frames over 50 ms. */
  slowFrames: number;
  longTasks: number;
  frames: number;
}

async function scrolling(page: Page): Promise<Scroll> {
  return page.evaluate(async () => {
    const box = document.querySelector('.table-box') as HTMLElement;
    const longTasks: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTasks.push(e.duration);
    });
    observer.observe({ type: 'longtask', buffered: false });
    const frames: number[] = [];
    box.scrollTop = 0;
    await new Promise((r) => requestAnimationFrame(r));
    let last = performance.now();
    while (box.scrollTop + box.clientHeight < box.scrollHeight - 1) {
      box.scrollTop += 200;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    observer.disconnect();
    const sorted = [...frames].sort((a, b) => a - b);
    return {
      maxFrame: sorted.at(-1) ?? 0,
      p99Frame: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
      slowFrames: frames.filter((f) => f > 50).length,
      longTasks: longTasks.filter((d) => d > 50).length,
      frames: frames.length,
    };
  });
}

async function filtering(page: Page): Promise<{ maxEvent: number; slowFrames: number; rowsAfter: number }> {
  await page.evaluate(() => {
    const w = window as unknown as { events: number[]; frames: number[]; stop: boolean };
    w.events = [];
    w.frames = [];
    w.stop = false;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.events.push(e.duration);
    }).observe({ type: 'event', buffered: false, durationThreshold: 16 } as PerformanceObserverInit);
    let last = performance.now();
    const tick = () => {
      const now = performance.now();
      w.frames.push(now - last);
      last = now;
      if (!w.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const filter = page.locator('#filter');
  await filter.click();
  await page.keyboard.type('web-01', { delay: 150 });
  await page.waitForTimeout(300);
  const rowsAfter = await page.locator(ROWS).count();
  for (let i = 0; i < 6; i++) await page.keyboard.press('Backspace', { delay: 150 });
  await page.waitForTimeout(500);
  return page.evaluate((rows) => {
    const w = window as unknown as { events: number[]; frames: number[]; stop: boolean };
    w.stop = true;
    return { maxEvent: Math.max(0, ...w.events), slowFrames: w.frames.filter((f) => f > 50).length, rowsAfter: rows };
  }, rowsAfter);
}

async function main(): Promise<void> {
  const server = await startBenchServer('bench/dashboard/server.ts', {
    env: { SKIFF_BENCH_PODS: String(PODS), SKIFF_BENCH_CHANGES: process.env.SKIFF_BENCH_CHANGES ?? '20' },
  });
  const browser = await launchChromium();
  try {
    const t: Target = server.target;
    const link = (view: string) => `${t.url}/dashboard/${view}#token=${encodeURIComponent(t.token)}`;
    // The build is made at the first request: not part of any figure.
    await paintTime(browser, link('overview'), '.node-card', 1);
    const podsPaint: number[] = [];
    const overviewPaint: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      podsPaint.push(await paintTime(browser, link('pods'), ROWS, 20));
      overviewPaint.push(await paintTime(browser, link('overview'), '.node-card', 50));
    }
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    // The functions measured in the page are compiled by tsx, which names them with a helper of its own.
    await context.addInitScript({ content: 'window.__name = (f) => f;' });
    const page = await context.newPage();
    const watches = new Map<string, number>();
    // Watches go over WebSocket on the embedded API (and over fetch where it serves none).
    const count = (url: string) => {
      const u = new URL(url);
      if (u.searchParams.get('watch') === '1') watches.set(u.pathname, (watches.get(u.pathname) ?? 0) + 1);
    };
    page.on('websocket', (ws) => count(ws.url()));
    page.on('request', (r) => count(r.url()));
    await page.goto(link('pods'));
    await shown(page, ROWS, 20);
    const rowsInPage = await page.locator(ROWS).count();
    // Where a scroll's time goes, from Chrome's own counters (seconds): script, style, layout.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const counters = async () =>
      Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
    const before = await counters();
    // SKIFF_BENCH_TRACE=file.json: Chrome's timeline of the first scroll, for DevTools' Performance panel.
    const trace = process.env.SKIFF_BENCH_TRACE;
    const scrolls: Scroll[] = [];
    const floors: Scroll[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      if (trace && pass === 0)
        await browser.startTracing(page, {
          path: trace,
          categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'disabled-by-default-v8.cpu_profiler'],
        });
      await page.bringToFront();
      scrolls.push(await scrolling(page));
      if (trace && pass === 0) await browser.stopTracing();
      // The floor of this machine at this moment: the same scroll over an empty box of the same
      // height, in a page of nothing else, measured right after.
      const blank = await context.newPage();
      await blank.setContent(
        `<div class="table-box" style="height:${await page.locator('.table-box').evaluate((b) => b.clientHeight)}px;overflow:auto"><div style="height:${await page.locator('.table-box').evaluate((b) => b.scrollHeight)}px"></div></div>`,
      );
      floors.push(await scrolling(blank));
      await blank.close();
    }
    const after = await counters();
    const spent = Object.fromEntries(
      ['ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration', 'TaskDuration'].map((k) => [k, round(((after[k] - before[k]) * 1000) / PASSES)]),
    );
    const summary = (runs: Scroll[]) => ({
      maxFrame: round(median(runs.map((r) => r.maxFrame))),
      p99Frame: round(median(runs.map((r) => r.p99Frame))),
      slowFrames: runs.map((r) => r.slowFrames),
      longTasks: runs.map((r) => r.longTasks),
      maxFrames: runs.map((r) => round(r.maxFrame)),
      frames: scrolls[0].frames,
    });
    const scroll = summary(scrolls);
    const floor = summary(floors);
    const filter = await filtering(page);
    const metrics = await counters();
    await context.close();

    const result = {
      pods: PODS,
      nodes: 50,
      firstPaintMs: {
        pods: round(median(podsPaint)),
        overview: round(median(overviewPaint)),
        podsRuns: podsPaint.map((v) => round(v)),
        overviewRuns: overviewPaint.map((v) => round(v)),
      },
      scroll,
      scrollSpentMs: spent,
      scrollFloor: floor,
      filter: { ...filter, maxEvent: round(filter.maxEvent) },
      rowsInPage,
      heapMB: round(metrics.JSHeapUsedSize / 2 ** 20),
      domNodes: metrics.Nodes,
      watchesPerResource: Object.fromEntries(watches),
    };
    console.log(JSON.stringify(result, null, 2));
    const machine = machineInfo();
    const table = markdownTable(
      ['figure', 'value', 'target'],
      [
        [`first meaningful paint, pod list of ${PODS} (median of ${LOADS})`, `${result.firstPaintMs.pods} ms`, 'under 1,000 ms'],
        [`first meaningful paint, overview (median of ${LOADS})`, `${result.firstPaintMs.overview} ms`, 'under 1,000 ms'],
        [
          `scrolling ${PODS} rows, ${PASSES} passes of ${scroll.frames} frames: longest frame / 99th percentile (medians of the passes)`,
          `${scroll.maxFrame} / ${scroll.p99Frame} ms`,
          'no frame over 50 ms',
        ],
        ['scrolling: frames over 50 ms, each pass', scroll.slowFrames.join(', '), '0'],
        ['scrolling: tasks over 50 ms, each pass', scroll.longTasks.join(', '), '0'],
        [
          'where a pass’s time went (Chrome’s counters): script / style / layout / all tasks',
          `${spent.ScriptDuration} / ${spent.RecalcStyleDuration} / ${spent.LayoutDuration} / ${spent.TaskDuration} ms`,
          '',
        ],
        [
          'the same scroll over an empty box after each pass (the machine’s floor): longest frame / 99th percentile (medians); frames over 50 ms',
          `${floor.maxFrame} / ${floor.p99Frame} ms; ${floor.slowFrames.join(', ')}`,
          '',
        ],
        ['filtering as one types: longest input to next paint', `${result.filter.maxEvent} ms`, 'under 50 ms'],
        ['filtering: frames over 50 ms', filter.slowFrames, '0'],
        ['rows in the page (of the list)', `${rowsInPage} of ${PODS}`, 'those in view'],
        ['JavaScript heap after all that', `${result.heapMB} MB`, 'page under 150 MB'],
        ['watches opened, per resource', JSON.stringify(result.watchesPerResource), 'one per kind in use'],
      ],
    );
    writeResults(
      'dashboard',
      { machine, ...result },
      resultsPage(
        'Dashboard in the browser',
        machine,
        [
          `Debian's Chromium (headless, through playwright-core), 1280x800, against the embedded API in another process holding ${PODS} running pods on 50 nodes while 20 pods a second change status.`,
          'First meaningful paint: from navigation to the first rows (or every node) on screen in a fresh tab, sign-in by link included.',
        ],
        table,
      ),
    );
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
