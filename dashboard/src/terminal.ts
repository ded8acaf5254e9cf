/**
 * A terminal in a container, as `kubectl exec -it` opens one: the exec endpoint over a WebSocket
 * with `tty=true` (the v5 channel protocol: stdin on 0, the terminal's output on 1, how it ended
 * on 3, the terminal's size on 4 as `{"Width","Height"}` whenever it changes), drawn by xterm.js.
 * Loaded only when a terminal is first opened (it is most of the dashboard's code otherwise).
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { CHANNEL, endedWords, sendOnChannel } from './api.js';

export interface TerminalSession {
  close(): void;
}

/**
 * Opens a terminal in `element` on the exec WebSocket `ws` (just made, not yet open); `onEnd` is
 * told how the session ended: the exit code's words, or why it could not run.
 */
export function openTerminal(ws: WebSocket, element: HTMLElement, onEnd: (words: string) => void): TerminalSession {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: true,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(element);
  fit.fit();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const send = (channel: number, bytes: Uint8Array) => sendOnChannel(ws, channel, bytes);
  const sendSize = () => send(CHANNEL.resize, encoder.encode(JSON.stringify({ Width: term.cols, Height: term.rows })));
  let ended: string | undefined;
  // Keys typed before the socket opens wait for it, in order (a terminal drops no keystrokes).
  let early: Uint8Array[] | undefined = [];
  ws.onopen = () => {
    sendSize();
    for (const bytes of early ?? []) send(CHANNEL.stdin, bytes);
    early = undefined;
    term.focus();
  };
  ws.onmessage = (m) => {
    const data = new Uint8Array(m.data as ArrayBuffer);
    if (data.length === 0) return;
    if (data[0] === CHANNEL.stdout || data[0] === CHANNEL.stderr) term.write(data.subarray(1));
    else if (data[0] === CHANNEL.status) ended = endedWords(decoder.decode(data.subarray(1)));
  };
  ws.onclose = () => onEnd(ended ?? 'The session closed.');
  const typed = term.onData((d) => {
    if (early) early.push(encoder.encode(d));
    else send(CHANNEL.stdin, encoder.encode(d));
  });
  const resized = term.onResize(sendSize);
  const observer = new ResizeObserver(() => fit.fit());
  observer.observe(element);
  return {
    close() {
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      ws.close();
      term.dispose();
    },
  };
}
