// mock-server is a stand-in for `mfd serve`, for what one real server with
// one local agent cannot show: several hosts (one offline), an action
// offered by two hosts, an agent answering with an error, and a token pushed
// on demand. HTTPS with /info and /authorise (a device is approved two
// seconds after it first asks), the panel from panel/dist, /mqtt bridged to
// a local mosquitto over TCP, and fake hosts that answer every command.
// The acceptance tests of issue 4 run the real bin/mfd; this only backs
// mock.test.mjs and working on the panel's looks:
//
//   node test/browser/mock-server.mjs [port]
import https from 'node:https';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { REPO, tempDir, freePort, waitFor, cleanup } from './lib.mjs';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const SERVER_ID = '6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d';
export const HOSTS = [
  { id: '1a2b3c4d-0000-4000-8000-000000000001', name: 'desk', screen: { w: 2560, h: 1440 },
    actions: [{ id: 'mute-mic', label: 'Mute mic' }, { id: 'sign', label: 'Signature' }, { id: 'terminal', label: 'Terminal' }, { id: 'lock', label: 'Lock screen' }] },
  { id: '1a2b3c4d-0000-4000-8000-000000000002', name: 'laptop', screen: { w: 1920, h: 1080 },
    actions: [{ id: 'mute-mic', label: 'Mute mic' }, { id: 'screenshot', label: 'Screenshot' }] },
  { id: '1a2b3c4d-0000-4000-8000-000000000003', name: 'media-pc', offline: true, screen: { w: 3840, h: 2160 },
    actions: [{ id: 'play', label: 'Play/pause' }] },
];
const CSP = "default-src 'self'; connect-src 'self' wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.txt': 'text/plain' };

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

// bridge speaks just enough of RFC 6455 to carry MQTT between the browser
// and mosquitto's TCP listener (Debian's mosquitto may lack WebSockets).
function bridge(req, socket, tcpPort, sockets) {
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
  sockets.add(socket);
  const up = net.connect(tcpPort, '127.0.0.1');
  up.on('data', (d) => {
    const n = d.length;
    let head;
    if (n < 126) head = Buffer.from([0x82, n]);
    else if (n < 65536) head = Buffer.from([0x82, 126, n >> 8, n & 255]);
    else { head = Buffer.alloc(10); head[0] = 0x82; head[1] = 127; head.writeBigUInt64BE(BigInt(n), 2); }
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
  const done = () => { sockets.delete(socket); up.destroy(); socket.destroy(); };
  up.on('close', done);
  socket.on('close', done);
  up.on('error', done);
  socket.on('error', done);
}

// startMock starts the mock on port (0: a free one).
export async function startMock({ port = 0, approveAfterMs = 2000, quiet = true } = {}) {
  const dir = tempDir('mfd-mock-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const tcpPort = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${tcpPort} 127.0.0.1\nallow_anonymous true\n`);
  const mosq = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: quiet ? 'ignore' : 'inherit' });

  const clients = new Map(); // client key -> {sub, state, code, t}
  const commands = [];
  const delays = new Map(); // action id -> how long its runs take, in ms
  const sockets = new Set();
  const dist = join(REPO, 'panel/dist');
  const srv = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    res.setHeader('Content-Security-Policy', CSP);
    const url = new URL(req.url, 'https://x');
    if (url.pathname === '/info') {
      return json(res, 200, { server_id: SERVER_ID, name: 'mock-desk', version: 'mock', api: 1, tls_fingerprint_sha256: '00', mqtt_path: '/mqtt' });
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
        if (c.state === 'pending' && Date.now() - c.t >= approveAfterMs) c.state = 'approved';
        if (c.state === 'pending') return json(res, 202, { status: 'pending', pairing_code: c.code, retry_after: 1 });
        const exp = new Date(Date.now() + 15 * 60e3).toISOString();
        return json(res, 200, { token: 'mock', expires_at: exp, sub: c.sub, role: 'panel', server_id: SERVER_ID,
          topics: {
            reply: `mfd/v1/clients/${c.sub}/reply`, token: `mfd/v1/clients/${c.sub}/token`, cmd: `mfd/v1/hosts/{host}/cmd/${c.sub}`,
            host_status: 'mfd/v1/hosts/+/status', host_actions: 'mfd/v1/hosts/+/actions', host_input: 'mfd/v1/hosts/+/input', host_state: 'mfd/v1/hosts/+/state/+',
          } });
      });
      return;
    }
    const p = url.pathname === '/' ? '/index.html' : url.pathname;
    const f = join(dist, p);
    if (!f.startsWith(dist + '/') || !existsSync(f)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(f)] || 'application/octet-stream' });
    res.end(readFileSync(f));
  });
  srv.on('upgrade', (req, socket) => bridge(req, socket, tcpPort, sockets));
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));

  await waitFor(() => new Promise((r) => {
    const s = net.connect(tcpPort, '127.0.0.1', () => { s.end(); r(true); });
    s.on('error', () => r(false));
  }), { message: 'mosquitto' });
  const mqtt = createRequire(join(REPO, 'panel/package.json'))('mqtt');
  const agent = mqtt.connect(`mqtt://127.0.0.1:${tcpPort}`, { protocolVersion: 5, clientId: 'mock-agent' });
  agent.on('message', (topic, payload, packet) => {
    const cmd = JSON.parse(String(payload));
    const host = topic.split('/')[3];
    const p = packet.properties || {};
    commands.push({ host, at: Date.now(), qos: packet.qos, topic, cmd, responseTopic: p.responseTopic,
      correlationData: p.correlationData && String(p.correlationData), messageExpiryInterval: p.messageExpiryInterval });
    const ok = !(cmd.op === 'action.run' && cmd.action === 'screenshot');
    const reply = ok ? { id: cmd.id, ok: true } : { id: cmd.id, ok: false, error: { code: 'no_input', message: 'no input backend' } };
    const took = (cmd.op === 'action.run' && delays.get(cmd.action)) || 5 + Math.random() * 20;
    setTimeout(() => agent.publish(p.responseTopic || `mfd/v1/clients/${topic.split('/').pop()}/reply`, JSON.stringify(reply),
      { properties: p.correlationData ? { correlationData: p.correlationData } : {} }), took);
  });
  await new Promise((resolve) => agent.on('connect', resolve));
  for (const h of HOSTS) {
    const base = `mfd/v1/hosts/${h.id}`;
    agent.publish(`${base}/status`, JSON.stringify(h.offline ? { host: h.id, online: false, name: h.name }
      : { host: h.id, name: h.name, online: true, os: 'linux', input: 'x11', version: 'mock', screen: h.screen }), { retain: true });
    agent.publish(`${base}/actions`, JSON.stringify({ actions: h.actions }), { retain: true });
    agent.publish(`${base}/input`, 'ON', { retain: true });
  }
  await new Promise((resolve) => agent.subscribe('mfd/v1/hosts/+/cmd/+', resolve));

  return {
    url: `https://127.0.0.1:${srv.address().port}`,
    commands,
    // openSockets counts the WebSockets open now.
    openSockets: () => sockets.size,
    // delay makes runs of action take ms before they are answered.
    delay: (action, ms) => delays.set(action, ms),
    // publish publishes as the hosts' agent (retained with retain).
    publish: (topic, payload, retain = false) => new Promise((resolve) => agent.publish(topic, payload, { retain }, resolve)),
    pushToken: (sub, token, expiresAt) => new Promise((resolve) => agent.publish(`mfd/v1/clients/${sub}/token`,
      JSON.stringify({ token, expires_at: expiresAt }), resolve)),
    async stop() {
      agent.end(true);
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
      mosq.kill();
      cleanup(dir);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await startMock({ port: Number(process.argv[2]) || 6790, quiet: false });
  console.log(`mock server on ${m.url}/`);
  const bye = async () => { await m.stop(); process.exit(0); };
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
}
