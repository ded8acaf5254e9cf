/**
 * Debian's Chromium (`npm test` installs the `chromium` package as root), driven by
 * playwright-core, which downloads no browser: headless, without the sandbox (tests run as
 * root), and with nothing that reaches out to the network (this machine has none but the
 * registries, and Chromium's background fetches would be refused at every start).
 */
import { type Browser, chromium } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
