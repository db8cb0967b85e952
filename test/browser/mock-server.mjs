// mock-server is a stand-in for `mfd serve` for working on the panel's looks
// when no server binary is at hand: HTTPS with /info and /authorise (the
// first device is approved after two seconds), the panel from panel/dist,
// /mqtt proxied to a local mosquitto, and two fake hosts that answer every
// command. The acceptance tests never use it: they run the real bin/mfd.
//
//   node test/browser/mock-server.mjs [port]
import https from 'node:https';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { REPO, tempDir, freePort, waitFor } from './lib.mjs';

const port = Number(process.argv[2]) || 6790;
const dir = tempDir('mfd-mock-');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
  '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });

const tcpPort = await freePort();
writeFileSync(join(dir, 'mosquitto.conf'), `listener ${tcpPort} 127.0.0.1\nallow_anonymous true\n`);
const mosq = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'inherit' });
process.on('exit', () => mosq.kill());
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

const serverID = '6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d';
const clients = new Map(); // key -> {sub, state, code, t}
const dist = join(REPO, 'panel/dist');
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.txt': 'text/plain' };

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const srv = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
  res.setHeader('Content-Security-Policy', "default-src 'self'; connect-src 'self' wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
  const url = new URL(req.url, 'https://x');
  if (url.pathname === '/info') {
    return json(res, 200, { server_id: serverID, name: 'mock-desk', version: 'mock', api: 1, tls_fingerprint_sha256: '00', mqtt_path: '/mqtt' });
  }
  if (url.pathname === '/authorise' && req.method === 'POST') {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const r = JSON.parse(body);
      let c = clients.get(r.client_id);
      if (!c) {
        c = { sub: `p-${clients.size + 1}`, state: 'pending', code: String(100000 + Math.floor(Math.random() * 900000)), t: Date.now() };
        clients.set(r.client_id, c);
      }
      if (c.state === 'pending' && Date.now() - c.t > 2000) c.state = 'approved';
      if (c.state === 'pending') return json(res, 202, { status: 'pending', pairing_code: c.code, retry_after: 1 });
      const exp = new Date(Date.now() + 15 * 60e3).toISOString();
      return json(res, 200, { token: 'mock', expires_at: exp, sub: c.sub, role: 'panel', server_id: serverID,
        topics: { reply: `mfd/v1/clients/${c.sub}/reply`, token: `mfd/v1/clients/${c.sub}/token`, host_status: 'mfd/v1/hosts/+/status' } });
    });
    return;
  }
  const p = url.pathname === '/' ? '/index.html' : url.pathname;
  const f = join(dist, p);
  if (!f.startsWith(dist) || !existsSync(f)) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'Content-Type': types[extname(f)] || 'application/octet-stream' });
  res.end(readFileSync(f));
});

// The upgrade is bridged to mosquitto's TCP listener by hand (Debian's
// mosquitto may lack working WebSockets): just enough of RFC 6455.
srv.on('upgrade', (req, socket) => {
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
  const up = net.connect(tcpPort, '127.0.0.1');
  up.on('data', (d) => {
    const n = d.length;
    const head = n < 126 ? Buffer.from([0x82, n]) : n < 65536 ? Buffer.from([0x82, 126, n >> 8, n & 255]) : (() => { const b = Buffer.alloc(10); b[0] = 0x82; b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); return b; })();
    socket.write(Buffer.concat([head, d]));
  });
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 15;
      let len = buf[1] & 127;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const data = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);
      if (op === 2 || op === 0) up.write(data);
      else if (op === 8) { up.end(); socket.end(); return; }
      else if (op === 9) socket.write(Buffer.concat([Buffer.from([0x8a, data.length]), data]));
    }
  });
  up.on('close', () => socket.destroy());
  socket.on('close', () => up.destroy());
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
});

srv.listen(port, '127.0.0.1');

// The fake hosts.
const require = createRequire(join(REPO, 'panel/package.json'));
const mqtt = require('mqtt');
const hosts = [
  { id: '1a2b3c4d-0000-4000-8000-000000000001', name: 'desk', screen: { w: 2560, h: 1440 },
    actions: [{ id: 'mute-mic', label: 'Mute mic' }, { id: 'sign', label: 'Signature' }, { id: 'terminal', label: 'Terminal' }, { id: 'lock', label: 'Lock screen' }] },
  { id: '1a2b3c4d-0000-4000-8000-000000000002', name: 'laptop', screen: { w: 1920, h: 1080 },
    actions: [{ id: 'mute-mic', label: 'Mute mic' }, { id: 'screenshot', label: 'Screenshot' }] },
  { id: '1a2b3c4d-0000-4000-8000-000000000003', name: 'media-pc', offline: true, screen: { w: 3840, h: 2160 },
    actions: [{ id: 'play', label: 'Play/pause' }] },
];
await waitFor(() => new Promise((r) => { const s = net.connect(tcpPort, '127.0.0.1', () => { s.end(); r(true); }); s.on('error', () => r(false)); }), { message: 'mosquitto' });
const agent = mqtt.connect(`mqtt://127.0.0.1:${tcpPort}`, { protocolVersion: 5, clientId: 'mock-agent' });
agent.on('connect', () => {
  for (const h of hosts) {
    const base = `mfd/v1/hosts/${h.id}`;
    agent.publish(`${base}/status`, JSON.stringify(h.offline ? { host: h.id, online: false, name: h.name }
      : { host: h.id, name: h.name, online: true, os: 'linux', input: 'x11', version: 'mock', screen: h.screen }), { retain: true });
    agent.publish(`${base}/actions`, JSON.stringify({ actions: h.actions }), { retain: true });
    agent.publish(`${base}/input`, 'ON', { retain: true });
  }
  agent.subscribe('mfd/v1/hosts/+/cmd/+');
});
agent.on('message', (topic, payload, packet) => {
  const cmd = JSON.parse(String(payload));
  const p = packet.properties || {};
  const ok = cmd.op !== 'action.run' || cmd.action !== 'screenshot';
  const reply = ok ? { id: cmd.id, ok: true } : { id: cmd.id, ok: false, error: { code: 'no_input', message: 'no input' } };
  if (cmd.op !== 'mouse.move') console.log('cmd', topic.split('/')[3].slice(-1), JSON.stringify(cmd));
  setTimeout(() => agent.publish(p.responseTopic || `mfd/v1/clients/${topic.split('/').pop()}/reply`, JSON.stringify(reply),
    { properties: p.correlationData ? { correlationData: p.correlationData } : {} }), 5 + Math.random() * 20);
});
console.log(`mock server on https://127.0.0.1:${port}/`);
