/// <reference path="./.sst/platform/config.d.ts" />
/**
 * Skiff on AWS: `npx sst deploy --stage <name>` (see README, "Deploy to AWS"). The resources
 * are in infra/, one file per concern.
 */
export default $config({
  app(input) {
    return {
      name: 'skiff',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
    };
  },
  async run() {
    // The kubelet the API function serves to joining workers (infra/settings.ts, kubeletBundle).
    const { buildKubeletBundle } = await import('./kubelet/bundle');
    await buildKubeletBundle('.build/skiff-kubelet.mjs');
    // The stream relay's build, which its task copies from a bucket (infra/settings.ts, relayBundle).
    const { buildRelayBundle } = await import('./functions/api/relay-bundle');
    await buildRelayBundle('.build/skiff-relay.mjs');
    // The dashboard the API function serves at /dashboard/ (infra/settings.ts, dashboardBuild).
    const { writeDashboard } = await import('./dashboard/build');
    await writeDashboard('.build/dashboard');
    const { skiff } = await import('./infra/index');
    // OIDC issuers and the dashboard's client (docs/auth.md), from the deploying shell.
    const { readFileSync } = await import('node:fs');
    const config = process.env.SKIFF_AUTHENTICATION_CONFIG_FILE;
    return skiff({
      authenticationConfig: config ? readFileSync(config, 'utf8') : undefined,
      dashboardClientId: process.env.SKIFF_DASHBOARD_CLIENT_ID,
    });
  },
});
