import { ensureV8Flags } from './v8-flags.ts';

ensureV8Flags(); // may re-execute this process with the V8 flags it needs; before the heavy imports
const { runCli } = await import('./cli.ts');

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// A forgotten socket or timer must never keep a batch job alive: once the
// work is done, give handles a moment to close, then leave and say why.
setTimeout(() => {
  process.stderr.write('exporter: open handles after the run finished; exiting anyway\n');
  process.exit(code);
}, 3_000).unref();
