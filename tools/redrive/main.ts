// The entry of `npm run redrive` (redrive.ts does the work).
import { redriveTenant } from './redrive.js';

process.exitCode = await redriveTenant(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
