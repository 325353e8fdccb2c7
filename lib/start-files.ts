import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';

/** Files the configuration names, read or checked once at start. Each method throws with the reason. */
export interface StartFiles {
  /** The bytes of a PEM file. */
  pem(path: string): Buffer;
  /** Makes sure a folder is there (creating it when asked) and, when asked, that this process can write to it. */
  folder(path: string, options: { create: boolean; writable: boolean }): void;
}

export const localFiles: StartFiles = {
  pem: (path) =>
    plainly(() => {
      const bytes = readFileSync(path);
      if (!bytes.includes('-----BEGIN ')) throw new Error('not a PEM file (no "-----BEGIN" line)');
      return bytes;
    }),
  folder: (path, { create, writable }) =>
    plainly(() => {
      if (create) mkdirSync(path, { recursive: true });
      if (!statSync(path).isDirectory()) throw new Error('not a folder');
      if (writable) accessSync(path, constants.W_OK);
    }),
};

/** File-system errors in a few words ("does not exist") rather than Node's "ENOENT: …, stat '/x'". */
function plainly<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    const words: Record<string, string> = {
      ENOENT: 'does not exist',
      EACCES: `permission denied for this process (uid ${process.getuid?.() ?? '?'})`,
      EPERM: `permission denied for this process (uid ${process.getuid?.() ?? '?'})`,
      EISDIR: 'is a folder, not a file',
      ENOTDIR: 'a part of the path is not a folder',
      EROFS: 'read-only file system',
    };
    const code = (error as NodeJS.ErrnoException).code;
    throw code && words[code] ? new Error(words[code]) : error;
  }
}
