// The numbered steps `npm start` prints ("[3/7] Starting the operator …  done in 2.1 s"),
// and the Ctrl-C that stops it between steps instead of starting more.
import { StartRefused } from './preflight.js';

export class Progress {
  private step = 0;
  /** Set by Ctrl-C: the next step refuses to begin. */
  interrupted = false;

  constructor(
    private readonly steps: number,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async run<T>(title: string, work: () => Promise<T>): Promise<T> {
    if (this.interrupted) throw new StartRefused('interrupted');
    this.step++;
    const began = Date.now();
    this.out.write(`[${this.step}/${this.steps}] ${title} …\n`);
    const result = await work();
    this.out.write(`      done in ${((Date.now() - began) / 1000).toFixed(1)} s\n`);
    return result;
  }
}
