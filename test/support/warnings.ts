/**
 * The texts of a Warning header as client-go reads them: `299 - "..."` items, each a
 * quoted-string (a backslash escapes the next character), in UTF-8 bytes that Node's HTTP
 * client hands over as Latin-1 characters.
 */
export function warningTexts(header: string | string[] | undefined): string[] {
  const value = Buffer.from(Array.isArray(header) ? header.join(', ') : (header ?? ''), 'latin1').toString('utf8');
  return [...value.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/gsu, '$1'));
}
