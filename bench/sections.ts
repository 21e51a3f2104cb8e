/** A `## ` section of docs/benchmarks.md that one BENCH_ONLY part writes and the others keep. */

/** The section of `markdown` under `heading` (to the next `## ` or the end), or undefined. */
export function sectionOf(markdown: string, heading: string): string | undefined {
  const start = markdown.indexOf(heading);
  if (start < 0) return undefined;
  const rest = markdown.indexOf('\n## ', start + heading.length);
  return markdown.slice(start, rest < 0 ? undefined : rest + 1).trimEnd();
}

/** `markdown` with its section under `heading` (if any) replaced by `section`, or `section` appended. */
export function spliceSection(markdown: string, heading: string, section: string[]): string {
  const start = markdown.indexOf(heading);
  const rest = start < 0 ? -1 : markdown.indexOf('\n## ', start + heading.length);
  const before = start < 0 ? `${markdown.trimEnd()}\n\n` : markdown.slice(0, start);
  const after = rest < 0 ? '' : markdown.slice(rest + 1);
  return `${before}${section.join('\n')}${after ? `\n${after}` : ''}`;
}
