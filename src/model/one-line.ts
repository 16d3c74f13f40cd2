/** A text with its control characters written as escapes (a line break as \n): one line, whatever a name in it holds. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
