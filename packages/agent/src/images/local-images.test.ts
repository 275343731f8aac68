import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { dockerArchive, imageArchitecture, rootfsLayer } from './local-images.ts';

/** Member names and contents of a tar (headers only as far as needed here). */
function members(tar: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString().replace(/\0.*$/s, '');
    const size = Number.parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, '').trim(), 8);
    out.set(name, tar.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('local images', () => {
  test('the rootfs has busybox, its applets as links, passwd and the usual directories', () => {
    const layer = members(rootfsLayer(Buffer.from('ELF'), ['bin/sh', 'usr/sbin/httpd']));
    expect(layer.get('bin/busybox')?.toString()).toBe('ELF');
    expect([...layer.keys()]).toEqual(
      expect.arrayContaining(['bin/sh', 'usr/sbin/httpd', 'etc/passwd', 'etc/group', 'tmp/', 'proc/']),
    );
    expect(layer.get('etc/passwd')?.toString()).toMatch(/^root:x:0:0:/);
  });

  test('a docker-archive: manifest naming the image, a config naming the layer by digest', () => {
    const layer = rootfsLayer(Buffer.from('ELF'), ['bin/sleep']);
    const archive = members(dockerArchive('localhost/pause:1', layer, ['/bin/sleep', 'infinity']));
    const manifest = JSON.parse(archive.get('manifest.json')!.toString()) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]?.RepoTags).toEqual(['localhost/pause:1']);
    const digest = createHash('sha256').update(layer).digest('hex');
    expect(manifest[0]?.Layers).toEqual([`${digest}/layer.tar`]);
    const configBytes = archive.get(manifest[0]!.Config)!;
    expect(manifest[0]?.Config).toBe(`${createHash('sha256').update(configBytes).digest('hex')}.json`);
    const config = JSON.parse(configBytes.toString());
    expect(config).toMatchObject({
      os: 'linux',
      architecture: imageArchitecture(),
      config: { Cmd: ['/bin/sleep', 'infinity'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${digest}`] },
    });
    expect(archive.get(`${digest}/layer.tar`)?.equals(layer)).toBe(true);
  });
});
