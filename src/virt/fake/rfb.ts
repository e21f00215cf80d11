import type { ConsoleClient, GuestConsole } from '../driver.js';

/**
 * The VNC server of a simulated guest: RFB 3.3, 3.7 and 3.8 (RFC 6143) with security type
 * None and raw encoding, showing a text-mode screen (black, the cursor at its top-left).
 * Enough for noVNC or any VNC client to connect, negotiate and draw it.
 */

const WIDTH = 720;
const HEIGHT = 400;
const CURSOR = { x: 0, y: 14, w: 8, h: 2 };

interface PixelFormat {
  bitsPerPixel: number;
  bigEndian: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** The server's own format: 32 bits per pixel, depth 24, little-endian, true colour. */
const SERVER_FORMAT: PixelFormat = { bitsPerPixel: 32, bigEndian: false, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };

function encodeFormat(f: PixelFormat): Buffer {
  const b = Buffer.alloc(16);
  b[0] = f.bitsPerPixel;
  b[1] = f.bitsPerPixel === 32 ? 24 : f.bitsPerPixel;
  b[2] = f.bigEndian ? 1 : 0;
  b[3] = 1; // true colour
  b.writeUInt16BE(f.redMax, 4);
  b.writeUInt16BE(f.greenMax, 6);
  b.writeUInt16BE(f.blueMax, 8);
  b[10] = f.redShift;
  b[11] = f.greenShift;
  b[12] = f.blueShift;
  return b;
}

/** Length of a client message starting at `b[0]`, or null until its header is all there. */
function messageLength(b: Buffer): number | null | 'unknown' {
  switch (b[0]) {
    case 0: return 20; // SetPixelFormat
    case 2: return b.length < 4 ? null : 4 + 4 * b.readUInt16BE(2); // SetEncodings
    case 3: return 10; // FramebufferUpdateRequest
    case 4: return 8; // KeyEvent
    case 5: return 6; // PointerEvent
    case 6: return b.length < 8 ? null : 8 + b.readUInt32BE(4); // ClientCutText
    default: return 'unknown';
  }
}

export class RfbServer implements GuestConsole {
  private state: 'version' | 'security' | 'init' | 'normal' | 'closed' = 'version';
  private minor = 8;
  private input: Buffer = Buffer.alloc(0);
  private format = SERVER_FORMAT;

  constructor(
    private readonly name: string,
    private readonly client: ConsoleClient,
  ) {
    client.send(Buffer.from('RFB 003.008\n'));
  }

  private send(data: Buffer): void {
    this.client.send(data);
  }

  write(data: Buffer): void {
    this.input = Buffer.concat([this.input, data]);
    while (this.state !== 'closed' && this.step());
  }

  close(): void {
    this.state = 'closed';
  }

  private fail(): false {
    this.state = 'closed';
    this.client.hangUp();
    return false;
  }

  private take(n: number): Buffer | null {
    if (this.input.length < n) return null;
    const out = this.input.subarray(0, n);
    this.input = this.input.subarray(n);
    return out;
  }

  /** Handles one complete message from the client; false when it needs more bytes. */
  private step(): boolean {
    switch (this.state) {
      case 'version': {
        const v = this.take(12);
        if (!v) return false;
        const m = /^RFB 003\.00(\d)\n$/.exec(v.toString('latin1'));
        if (!m) return this.fail();
        // 3.3 clients get 3.3; 3.7 gets 3.7; anything later speaks 3.8.
        this.minor = Number(m[1]) < 7 ? 3 : Math.min(Number(m[1]), 8);
        if (this.minor === 3) {
          this.send(Buffer.from([0, 0, 0, 1])); // the server picks None
          this.state = 'init';
        } else {
          this.send(Buffer.from([1, 1])); // one security type: None
          this.state = 'security';
        }
        return true;
      }
      case 'security': {
        const t = this.take(1);
        if (!t) return false;
        if (t[0] !== 1) return this.fail();
        if (this.minor === 8) this.send(Buffer.from([0, 0, 0, 0])); // SecurityResult OK
        this.state = 'init';
        return true;
      }
      case 'init': {
        if (!this.take(1)) return false; // ClientInit: shared or not, one guest screen either way
        const name = Buffer.from(this.name, 'utf8');
        const head = Buffer.alloc(4);
        head.writeUInt16BE(WIDTH, 0);
        head.writeUInt16BE(HEIGHT, 2);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(name.length, 0);
        this.send(Buffer.concat([head, encodeFormat(SERVER_FORMAT), len, name]));
        this.state = 'normal';
        return true;
      }
      case 'normal': {
        if (!this.input.length) return false;
        const n = messageLength(this.input);
        if (n === 'unknown') return this.fail();
        if (n === null) return false;
        const msg = this.take(n);
        if (!msg) return false;
        if (msg[0] === 0) this.setPixelFormat(msg);
        else if (msg[0] === 3 && msg[1] === 0) this.update(msg.readUInt16BE(2), msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8));
        // Incremental requests wait for a change, and the screen does not change; keys,
        // pointer and clipboard go to a guest that ignores them.
        return true;
      }
      default:
        return false;
    }
  }

  private setPixelFormat(msg: Buffer): void {
    const bpp = msg[4];
    if (![8, 16, 32].includes(bpp) || msg[7] !== 1) {
      this.fail(); // colour maps are not offered
      return;
    }
    this.format = { bitsPerPixel: bpp, bigEndian: msg[6] !== 0, redMax: msg.readUInt16BE(8), greenMax: msg.readUInt16BE(10), blueMax: msg.readUInt16BE(12), redShift: msg[14], greenShift: msg[15], blueShift: msg[16] };
  }

  private pixel(r: number, g: number, b: number): Buffer {
    const f = this.format;
    const v = (Math.round((r * f.redMax) / 255) << f.redShift) | (Math.round((g * f.greenMax) / 255) << f.greenShift) | (Math.round((b * f.blueMax) / 255) << f.blueShift);
    const out = Buffer.alloc(f.bitsPerPixel / 8);
    if (out.length === 1) out[0] = v;
    else if (out.length === 2) f.bigEndian ? out.writeUInt16BE(v & 0xffff) : out.writeUInt16LE(v & 0xffff);
    else f.bigEndian ? out.writeUInt32BE(v >>> 0) : out.writeUInt32LE(v >>> 0);
    return out;
  }

  /** A FramebufferUpdate of the asked area, raw-encoded, clipped to the screen. */
  private update(x: number, y: number, w: number, h: number): void {
    x = Math.min(x, WIDTH);
    y = Math.min(y, HEIGHT);
    w = Math.min(w, WIDTH - x);
    h = Math.min(h, HEIGHT - y);
    const bpp = this.format.bitsPerPixel / 8;
    const pixels = Buffer.alloc(w * h * bpp);
    if (pixels.length) pixels.fill(this.pixel(0, 0, 0));
    const grey = this.pixel(170, 170, 170);
    for (let py = Math.max(y, CURSOR.y); py < Math.min(y + h, CURSOR.y + CURSOR.h); py++) {
      for (let px = Math.max(x, CURSOR.x); px < Math.min(x + w, CURSOR.x + CURSOR.w); px++) grey.copy(pixels, ((py - y) * w + (px - x)) * bpp);
    }
    const header = Buffer.alloc(16);
    header[0] = 0; // FramebufferUpdate
    header.writeUInt16BE(1, 2); // one rectangle
    header.writeUInt16BE(x, 4);
    header.writeUInt16BE(y, 6);
    header.writeUInt16BE(w, 8);
    header.writeUInt16BE(h, 10);
    header.writeInt32BE(0, 12); // raw encoding
    this.send(Buffer.concat([header, pixels]));
  }
}
