/**
 * A file server (SPEC §12): files of any size, streamed from one directory and never from
 * outside it. With the certificates in ./certs (the flags' defaults):
 *
 *     rp-certs init && rp-certs server server && rp-certs client node-a
 *     RP_FILES_ROOT=/srv/files rp-server --handler ./examples/file-server.ts
 *     rp-client --cert certs/node-a.crt.pem --key certs/node-a.key.pem
 *
 * then fetch a file through the client's gateway (127.0.0.1:8001 by default). What follows
 * `//` is the path under RP_FILES_ROOT, each `/`-separated segment percent-encoded:
 *
 *     curl -o report.pdf 'http://127.0.0.1:8001/server/files//reports/2024/final%20report.pdf'
 *
 * Answers: 200 with the file's bytes, Content-Length, and a Content-Type from its extension
 * (application/octet-stream when unknown); 404 for a missing file or a directory (there are
 * no listings); 403 for a path that leads outside the root, by `..` or by a symlink; 400 for
 * an empty path or a NUL byte. The file is streamed: memory stays flat whatever its size.
 */
import { constants, realpathSync, statSync, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { contentType } from 'mime-types';
import { EventHandler, HttpError, reply, type EventBody, type EventContext } from 'restpipe';

/** O_NOFOLLOW: the checked path's last step cannot have become a symlink; O_NONBLOCK: a FIFO cannot hang the open. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** What a failed look-up tells the caller. Anything else is a 500. */
const STATUS_OF_ERRNO: Record<string, number> = { ENOENT: 404, ENOTDIR: 404, ELOOP: 404, EACCES: 403, EPERM: 403, ENAMETOOLONG: 400 };

/** The served directory, symlinks resolved once at start-up. A throw here stops rp-server with this message. */
function rootFromEnv(): string {
  const dir = process.env['RP_FILES_ROOT'];
  if (!dir) throw new Error('RP_FILES_ROOT is not set: name the directory to serve, e.g. RP_FILES_ROOT=/srv/files rp-server --handler ./examples/file-server.ts');
  let root: string;
  try {
    root = realpathSync(dir);
  } catch (error) {
    throw new Error(`RP_FILES_ROOT ${dir} cannot be used: ${(error as Error).message}`);
  }
  if (!statSync(root).isDirectory()) throw new Error(`RP_FILES_ROOT ${dir} is not a directory`);
  return root;
}

function lookupFailed(error: unknown, asked: string): never {
  const status = STATUS_OF_ERRNO[(error as NodeJS.ErrnoException).code ?? ''];
  if (status === 404) throw new HttpError(404, `no file ${asked} here`);
  if (status === 403) throw new HttpError(403, `${asked} may not be read`);
  if (status === 400) throw new HttpError(400, `path ${asked} is too long`);
  throw error;
}

export default class FileServer extends EventHandler {
  readonly root = rootFromEnv();

  /** `GET /server/files//a/b.txt`: the segments after `//` are the path under the root. */
  async get_files(_ctx: EventContext, _body: EventBody, ...segments: string[]) {
    const asked = segments.join('/');
    if (asked === '') throw new HttpError(400, 'name a file: /server/files//PATH');
    if (asked.includes('\0')) throw new HttpError(400, 'a path may not contain a NUL byte');
    // Checked before the disk is touched, so a caller cannot probe what exists outside.
    const path = resolve(this.root, asked);
    this.#mustBeInside(path, asked);
    const real = await realpath(path).catch((error: unknown) => lookupFailed(error, asked));
    // Checked again after symlinks are resolved: a link inside the root may point out of it.
    this.#mustBeInside(real, asked);
    const handle = await open(real, OPEN_FLAGS).catch((error: unknown) => lookupFailed(error, asked));
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new HttpError(404, `${asked} is a directory or a device, not a file`);
      await this.#mustBeOpenedInside(handle, real, info, asked);
      // The stream reads the handle checked above, never the path again; it closes the handle when done or destroyed.
      const mimeType = contentType(extname(real)) || 'application/octet-stream';
      return reply.stream(handle.createReadStream(), { mimeType, size: info.size });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  #mustBeInside(path: string, asked: string): void {
    const inside = path === this.root || path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
    if (!inside) throw new HttpError(403, `${asked} is outside the served directory`);
  }

  /**
   * Time of check, time of use: someone who can write under the root could swap a directory
   * of `real` for a symlink between the realpath above and the open. So the file actually
   * opened is checked once more: on Linux by the kernel's own path for the descriptor; elsewhere
   * by the checked path still naming the very file opened (same device and inode). From here
   * on only the handle is read, so a later swap changes nothing.
   */
  async #mustBeOpenedInside(handle: FileHandle, real: string, opened: Stats, asked: string): Promise<void> {
    if (process.platform === 'linux') return this.#mustBeInside(await readlink(`/proc/self/fd/${handle.fd}`), asked);
    const now = await stat(real);
    if (now.dev !== opened.dev || now.ino !== opened.ino) throw new HttpError(403, `${asked} changed while it was opened`);
  }
}
