/**
 * Address ranges: parsing with the flag named in the error, host addresses, the /24s a cluster
 * range is cut into, and the launch script's choice of a node's /24 from its own address.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kubeletUserData } from '../../shared/cloud/kubelet-script.js';
import { clusterRange, ipOf, isHostOf, numberOf, parseCidr, subnet } from '../../shared/net/cidr.js';

describe('CIDR ranges', () => {
  it('parses a range to its network address and size, and refuses what is not one', () => {
    expect(parseCidr('127.16.3.7/12')).toMatchObject({ base: numberOf('127.16.0.0'), size: 2 ** 20, bits: 12 });
    expect(ipOf(numberOf('10.1.2.3'))).toBe('10.1.2.3');
    expect(() => parseCidr('127.16.0.0', '--cluster-cidr')).toThrow('--cluster-cidr "127.16.0.0" is not an IPv4 CIDR of /8 to /30');
    expect(() => parseCidr('127.300.0.0/16')).toThrow('is not an IPv4 CIDR');
    expect(() => parseCidr('127.0.0.0/31')).toThrow('is not an IPv4 CIDR');
    expect(() => clusterRange('127.16.0.0/25')).toThrow('must be /24 or wider: each node takes a /24 of it');
  });

  it('knows its host addresses and its subnets', () => {
    const range = parseCidr('127.32.0.0/16');
    expect(isHostOf(range, '127.32.0.0')).toBe(false);
    expect(isHostOf(range, '127.32.0.1')).toBe(true);
    expect(isHostOf(range, '127.32.255.254')).toBe(true);
    expect(isHostOf(range, '127.32.255.255')).toBe(false);
    expect(isHostOf(range, '127.33.0.1')).toBe(false);
    expect(isHostOf(range, 'not-an-ip')).toBe(false);
    expect(subnet(range, 24, 0)).toBe('127.32.0.0/24');
    expect(subnet(range, 24, 255)).toBe('127.32.255.0/24');
    expect(subnet(range, 24, 256)).toBeUndefined();
    expect(subnet(range, 8, 0)).toBeUndefined();
  });

  it('the launch script gives a node the /24 of the cluster range its address picks, as the shell computes it', () => {
    const script = kubeletUserData({
      server: 'https://api.example',
      caCert: 'CA',
      bootstrapToken: 'token',
      node: { name: 'n', instanceType: 't3.medium', zone: 'us-east-1a' },
      identity: 'ec2',
      loopbackPodCidr: '127.128.0.0/9',
      kubelet: 'true',
    });
    const line = script.split('\n').find((l) => l.startsWith('cidr='));
    expect(line).toBeDefined();
    const run = (address: string) => execFileSync('sh', ['-c', `address=${address}; ${line}; echo "$cidr"`], { encoding: 'utf8' }).trim();
    // 127.100.1.5 is the 261st address: the 261st /24 of 127.128.0.0/9.
    expect(run('127.100.1.5')).toBe('127.129.5.0/24');
    expect(run('127.100.1.6')).toBe('127.129.6.0/24');
    expect(run('127.100.0.0')).toBe('127.128.0.0/24');
    // 32768 /24s in a /9: the count wraps.
    expect(run('127.100.128.0')).toBe('127.128.0.0/24');
  });
});
