/**
 * The page a noVNC console URL opens: a small RFB client (security None, raw encoding, the
 * server's 32-bit pixel format) that draws the guest's screen on a canvas. It reads the
 * websocket's `path` from the query as noVNC's vnc_auto.html does, so a real noVNC pointed
 * at the same path works too.
 */
export const VNC_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>noVNC</title>
<style>body{margin:0;background:#333;color:#ddd;font:14px sans-serif}#status{padding:4px 8px}canvas{display:block;margin:0 auto;background:#000}</style>
</head>
<body>
<div id="status">noVNC: connecting…</div>
<canvas id="screen" width="720" height="400"></canvas>
<script>
(() => {
  const status = (text) => { document.getElementById('status').textContent = 'noVNC: ' + text; };
  const path = new URLSearchParams(location.search).get('path') || 'websockify';
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + path.replace(/^\\//, ''), ['binary']);
  ws.binaryType = 'arraybuffer';
  const canvas = document.getElementById('screen');
  const ctx = canvas.getContext('2d');
  let buf = new Uint8Array(0);
  let state = 'version';
  const send = (bytes) => ws.send(new Uint8Array(bytes));
  const view = (off) => new DataView(buf.buffer, buf.byteOffset + off);
  const take = (n) => { const out = buf.slice(0, n); buf = buf.slice(n); return out; };
  const request = (incremental) => send([3, incremental, 0, 0, 0, 0, canvas.width >> 8, canvas.width & 255, canvas.height >> 8, canvas.height & 255]);
  const fail = (why) => { status(why); ws.close(); return false; };
  function step() {
    if (state === 'version') {
      if (buf.length < 12) return false;
      take(12);
      send(Array.from(new TextEncoder().encode('RFB 003.008\\n')));
      state = 'security';
    } else if (state === 'security') {
      if (buf.length < 1 || buf.length < 1 + buf[0]) return false;
      if (!take(1 + buf[0]).slice(1).includes(1)) return fail('the server wants a password');
      send([1]);
      state = 'result';
    } else if (state === 'result') {
      if (buf.length < 4) return false;
      if (take(4)[3] !== 0) return fail('refused');
      send([1]); // ClientInit: share the screen
      state = 'init';
    } else if (state === 'init') {
      if (buf.length < 24 || buf.length < 24 + view(20).getUint32(0)) return false;
      const m = take(24 + view(20).getUint32(0));
      canvas.width = (m[0] << 8) | m[1];
      canvas.height = (m[2] << 8) | m[3];
      status('connected to ' + new TextDecoder().decode(m.slice(24)));
      send([2, 0, 0, 1, 0, 0, 0, 0]); // SetEncodings: raw
      request(0);
      state = 'normal';
    } else if (buf[0] === 0) { // FramebufferUpdate
      if (buf.length < 4) return false;
      const rects = view(2).getUint16(0);
      let off = 4;
      for (let i = 0; i < rects; i++) {
        if (buf.length < off + 12) return false;
        off += 12 + view(off + 4).getUint16(0) * view(off + 6).getUint16(0) * 4;
      }
      if (buf.length < off) return false;
      const m = take(off);
      off = 4;
      for (let i = 0; i < rects; i++) {
        const d = new DataView(m.buffer, off);
        const [x, y, w, h] = [d.getUint16(0), d.getUint16(2), d.getUint16(4), d.getUint16(6)];
        if (w && h) {
          const img = ctx.createImageData(w, h);
          for (let p = 0, q = off + 12; p < w * h * 4; p += 4, q += 4) {
            img.data[p] = m[q + 2]; img.data[p + 1] = m[q + 1]; img.data[p + 2] = m[q]; img.data[p + 3] = 255;
          }
          ctx.putImageData(img, x, y);
        }
        off += 12 + w * h * 4;
      }
      request(1);
    } else if (buf[0] === 2) { // Bell
      take(1);
    } else if (buf[0] === 3) { // ServerCutText
      if (buf.length < 8 || buf.length < 8 + view(4).getUint32(0)) return false;
      take(8 + view(4).getUint32(0));
    } else {
      return fail('unexpected message ' + buf[0]);
    }
    return true;
  }
  ws.onmessage = (e) => {
    const data = new Uint8Array(e.data);
    const joined = new Uint8Array(buf.length + data.length);
    joined.set(buf);
    joined.set(data, buf.length);
    buf = joined;
    while (step());
  };
  ws.onclose = () => { if (state !== 'normal') status('disconnected (the console link may have expired)'); else status('disconnected'); };
})();
</script>
</body>
</html>
`;
