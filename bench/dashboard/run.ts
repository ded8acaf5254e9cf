/**
 * Dashboard benchmark (issue 16), in Debian's Chromium through playwright-core, against the
 * embedded API in another process holding 5,000 running pods on 50 nodes while 20 pods a second
 * change (bench/dashboard/server.ts):
 *
 * - first meaningful paint: from navigation to the pod list's first rows on screen (the list of
 *   5,000 fetched and rendered), and to the overview's nodes, each a fresh tab, medians of 7;
 * - scrolling the 5,000-row list from top to bottom, 200 px a frame: the longest frame, the 99th
 *   percentile, and the tasks over 50 ms (PerformanceObserver `longtask`);
 * - filtering as one types (`web-01`, a key each 150 ms, then erased): the longest input event,
 *   from the key to the next paint (Event Timing), and the frames over 50 ms;
 * - the page's JavaScript heap and DOM nodes after all that (Chrome's own metrics);
 * - how many watches the page opened per resource.
 *
 *   npx tsx bench/dashboard/run.ts [--quick]
 */
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/chromium.js';
import { startBenchServer, type Target } from '../support/server.js';
import { machineInfo, markdownTable, median, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const PODS = quick ? 1000 : 5000;
const LOADS = quick ? 3 : 7;

/** Milliseconds from navigation until `ready` holds in a fresh tab. */
async function paintTime(browser: Browser, url: string, ready: string): Promise<number> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(ready, undefined, { timeout: 60_000, polling: 'raf' });
    return await page.evaluate(() => performance.now());
  } finally {
    await context.close();
  }
}

async function scrolling(page: Page): Promise<{ maxFrame: number; p99Frame: number; longTasks: number; frames: number }> {
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
  const rowsAfter = await page.locator('.table-box tbody tr:not(.spacer)').count();
  for (let i = 0; i < 6; i++) await page.keyboard.press('Backspace', { delay: 150 });
  await page.waitForTimeout(500);
  return page.evaluate((rows) => {
    const w = window as unknown as { events: number[]; frames: number[]; stop: boolean };
    w.stop = true;
    return { maxEvent: Math.max(0, ...w.events), slowFrames: w.frames.filter((f) => f > 50).length, rowsAfter: rows };
  }, rowsAfter);
}

async function main(): Promise<void> {
  const server = await startBenchServer('bench/dashboard/server.ts', { env: { SKIFF_BENCH_PODS: String(PODS) } });
  const browser = await launchChromium();
  try {
    const t: Target = server.target;
    const link = (view: string) => `${t.url}/dashboard/${view}#token=${encodeURIComponent(t.token)}`;
    // The build is made at the first request: not part of any figure.
    await paintTime(browser, link('overview'), "document.querySelectorAll('.node-card').length > 0");
    const podsPaint: number[] = [];
    const overviewPaint: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      podsPaint.push(await paintTime(browser, link('pods'), "document.querySelectorAll('.table-box tbody tr:not(.spacer)').length >= 20"));
      overviewPaint.push(await paintTime(browser, link('overview'), "document.querySelectorAll('.node-card').length >= 50"));
    }
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const watches = new Map<string, number>();
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.searchParams.get('watch') === '1') watches.set(u.pathname, (watches.get(u.pathname) ?? 0) + 1);
    });
    await page.goto(link('pods'));
    await page.waitForFunction(`document.querySelectorAll('.table-box tbody tr:not(.spacer)').length >= 20`, undefined, { timeout: 60_000 });
    const rowsInPage = await page.locator('.table-box tbody tr:not(.spacer)').count();
    const scroll = await scrolling(page);
    const filter = await filtering(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = Object.fromEntries(
      ((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]),
    );
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
      scroll: { ...scroll, maxFrame: round(scroll.maxFrame), p99Frame: round(scroll.p99Frame) },
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
        ['first meaningful paint, pod list of ' + PODS + ' (median of ' + LOADS + ')', `${result.firstPaintMs.pods} ms`, 'under 1,000 ms'],
        ['first meaningful paint, overview (median of ' + LOADS + ')', `${result.firstPaintMs.overview} ms`, 'under 1,000 ms'],
        [
          `scrolling ${PODS} rows: longest frame / 99th percentile (${scroll.frames} frames)`,
          `${result.scroll.maxFrame} / ${result.scroll.p99Frame} ms`,
          'no frame over 50 ms',
        ],
        ['scrolling: tasks over 50 ms', scroll.longTasks, '0'],
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
