/** Escapes LIKE wildcards so a name filter is a plain substring match (for ilike). */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}
