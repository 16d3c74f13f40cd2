import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.ts';

/**
 * The README's table of commands against the CLI itself (commander's own
 * help): a flag or a command the README documents and the CLI lacks fails
 * here, and so does a command the CLI has and the table leaves out.
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Each row of the commands table: the command's words and the flags its cell names. */
function documented(): { command: string; flags: string[] }[] {
  const table = README.slice(README.indexOf('| command | what it does |'));
  const rows = table
    .split('\n')
    .slice(2)
    .filter((line) => line.startsWith('| `exporter '));
  return rows.map((row) => {
    const cell = /^\| `(exporter [^`]*)`/.exec(row)![1]!;
    const words = cell.split(' ').slice(1);
    const command = words
      .slice(
        0,
        words.findIndex((w) => /^[<[-]/.test(w)) === -1 ? words.length : words.findIndex((w) => /^[<[-]/.test(w)),
      )
      .join(' ');
    return { command, flags: [...cell.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]) };
  });
}

async function help(args: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk) => (text += chunk));
  const code = await runCli([...args, '--help'], { stdout: out, stderr: out, isTerminal: false });
  expect(code, `${args.join(' ')} --help`).toBe(0);
  return text;
}

describe("the README's commands", () => {
  it('every command and flag the table names is one the CLI has, and every command the CLI has is in the table', async () => {
    const rows = documented();
    expect(rows.length).toBeGreaterThan(10);
    for (const { command, flags } of rows) {
      const text = await help(command.split(' '));
      for (const flag of flags)
        expect(text, `exporter ${command} ${flag}`).toMatch(new RegExp(`(^|[\\s,])${flag}([\\s,=<[]|$)`, 'm'));
    }
    const top = await help([]);
    const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^ {2}([a-z]+)/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    const tabled = new Set(rows.map((r) => r.command.split(' ')[0]));
    for (const command of commands)
      expect(tabled.has(command), `exporter ${command} is not in the README's table`).toBe(true);
  });
});
