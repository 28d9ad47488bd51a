// The progress line of a command that waits on SpyCloud: redrawn on stderr as calls
// go out, and only on a terminal, so that pipes and logs never collect it.
import type { Dispatcher } from 'undici';

/** Where progress goes while a command runs (process.stderr in the real command line). */
export interface Terminal {
  isTTY?: boolean;
  write: (text: string) => unknown;
}

/** Return to the line's start and erase it. */
const ERASE = '\r\x1b[2K';

const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export class Progress {
  private pages = 0;
  private catalogCalls = 0;
  private done = 0;
  private drawn = false;

  constructor(private readonly terminal: Terminal, private readonly values: number) {}

  /** Counts every SpyCloud call the dispatcher sends, by kind (its path says which). */
  readonly interceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (options, handler) => {
    if (options.path.includes('/breach/catalog/')) this.catalogCalls += 1;
    else if (options.path.includes('/breach/data/')) this.pages += 1;
    this.draw();
    return dispatch(options, handler);
  };

  /** One value's breach records are in. */
  valueDone(): void {
    this.done += 1;
    this.draw();
  }

  /** Erases the line before the command's own output. */
  clear(): void {
    if (this.drawn) this.terminal.write(ERASE);
    this.drawn = false;
  }

  private draw(): void {
    if (this.terminal.isTTY !== true) return;
    this.drawn = true;
    this.terminal.write(`${ERASE}SpyCloud: ${this.done} of ${this.values} looked up, `
      + `${counted(this.pages, 'page', 'pages')} of breach records, ${counted(this.catalogCalls, 'catalog call', 'catalog calls')}…`);
  }
}
