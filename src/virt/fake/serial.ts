import type { ConsoleClient, GuestConsole } from '../driver.js';

/**
 * The serial port of a simulated guest waiting at its login prompt: the terminal echoes
 * what is typed (a tty in canonical mode does), and Enter brings the prompt again, as a
 * getty answers a login it does not know. Nothing is written until the client types, as
 * on a real serial line joined after boot.
 */
export class SerialConsole implements GuestConsole {
  private open = true;

  constructor(
    private readonly hostname: string,
    private readonly client: ConsoleClient,
  ) {}

  write(data: Buffer): void {
    if (!this.open) return;
    const out: string[] = [];
    for (const ch of data.toString('latin1')) {
      if (ch === '\r' || ch === '\n') out.push(`\r\n\r\nLogin incorrect\r\n${this.hostname} login: `);
      else if (ch >= ' ' || ch === '\t') out.push(ch);
    }
    if (out.length) this.client.send(Buffer.from(out.join(''), 'latin1'));
  }

  close(): void {
    this.open = false;
  }
}
