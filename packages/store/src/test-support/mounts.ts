/**
 * Real small or read-only filesystems for the disk-full and unwritable-directory tests:
 * a tmpfs mounted on a temp dir. Mounting needs root (CAP_SYS_ADMIN); where the kernel
 * refuses, `mountTmpfs` says why instead, and the test that needed it says so too.
 */
import { spawnSync } from 'node:child_process';

export type MountResult = { readonly ok: true; readonly unmount: () => void } | { readonly ok: false; readonly reason: string };

/** `mount -t tmpfs -o OPTIONS tmpfs DIR`. */
export function mountTmpfs(dir: string, options: string): MountResult {
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.error) return { ok: false, reason: `mount could not run: ${mount.error.message}` };
  if (mount.status !== 0) return { ok: false, reason: `mount -t tmpfs refused (exit ${mount.status}): ${mount.stderr.trim()}` };
  return {
    ok: true,
    unmount: () => {
      const umount = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (umount.status !== 0) spawnSync('umount', ['-l', dir]);
    },
  };
}

/** Remounts a mounted tmpfs with other options (`remount,ro`, say). */
export function remount(dir: string, options: string): boolean {
  return spawnSync('mount', ['-o', `remount,${options}`, dir]).status === 0;
}
