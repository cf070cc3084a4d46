/**
 * Why a file cannot be read, in words an operator can act on (the error's code otherwise), for messages that name
 * a file and never its content.
 *
 * @example
 * try { readFileSync(file, 'utf8'); } catch (err) { throw new Error(`${file}: ${unreadableReason(err)}`); }
 */
export function unreadableReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'no permission to read it';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? 'cannot be read';
}
