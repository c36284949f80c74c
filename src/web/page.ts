/**
 * The live page, served from the package itself (no CDN, no third-party script or font: a robot
 * with no internet shows it the same). Plain HTML, CSS and browser JavaScript kept as strings so
 * they ship inside dist/ with no copy step; the Content-Security-Policy (server.ts) allows only
 * /page.js and /page.css from this server, so nothing here is inline. Text from the robot is set
 * with textContent, never as HTML.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>embody</title>
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body>
<header>
  <h1>embody <span id="robot"></span></h1>
  <div id="mode" class="mode" data-mode="BOOT">connecting…</div>
  <div id="cause"></div>
  <div id="link" class="link">offline</div>
</header>
<main>
  <section class="panel" id="cameras-panel">
    <h2>Camera and touch</h2>
    <div id="cameras"></div>
    <div id="pads"></div>
  </section>
  <section class="panel" id="joints-panel">
    <h2>Joints <small>measured ● commanded ▲ against limits</small></h2>
    <div id="joints"></div>
  </section>
  <section class="panel" id="control-panel">
    <h2>Control</h2>
    <button id="stop" class="stop" type="button">STOP</button>
    <div class="row">
      <input id="token" type="password" autocomplete="off" placeholder="operator token">
      <button id="arm" type="button">Arm</button>
      <button id="reset" type="button">Reset</button>
    </div>
    <div class="row">
      <input id="instruction-text" type="text" maxlength="1024" placeholder="instruction for the policy">
      <button id="instruction-send" type="button">Send</button>
    </div>
    <div id="ack" role="status"></div>
    <dl id="numbers"></dl>
  </section>
  <section class="panel" id="events-panel">
    <h2>Last events</h2>
    <ul id="events"></ul>
  </section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
:root { color-scheme: dark; --bg: #14171c; --panel: #1d2229; --fg: #e6e6e6; --dim: #8a93a0; --ok: #3fb950; --warn: #d29922; --bad: #f85149; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: #0d1014; flex-wrap: wrap; }
h1 { font-size: 1.2em; margin: 0; } h1 span { color: var(--dim); font-weight: normal; }
h2 { font-size: 1em; margin: 0 0 .5em; color: var(--dim); } h2 small { font-weight: normal; }
.mode { padding: .2em .7em; border-radius: 4px; font-weight: bold; background: #30363d; }
.mode[data-mode="RUNNING"] { background: var(--ok); color: #000; }
.mode[data-mode="ARMED"] { background: var(--warn); color: #000; }
.mode[data-mode="SAFE_STOP"], .mode[data-mode="FAULT"] { background: var(--bad); color: #fff; }
#cause { color: var(--dim); }
.link { margin-left: auto; color: var(--bad); } .link.on { color: var(--ok); }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: .8em; padding: .8em; }
.panel { background: var(--panel); border-radius: 6px; padding: .8em; }
canvas.camera { width: 100%; max-width: 480px; image-rendering: pixelated; background: #000; display: block; }
.pad { display: grid; grid-template-columns: 7em 5.5em 1fr 4em; gap: .5em; align-items: center; margin: .3em 0; }
.pad .state { font-weight: bold; color: var(--dim); } .pad.on .state { color: var(--ok); }
.bar { height: 10px; background: #30363d; border-radius: 5px; position: relative; overflow: hidden; }
.bar i { position: absolute; left: 0; top: 0; bottom: 0; background: var(--ok); }
.joint { display: grid; grid-template-columns: 8em 1fr 5em; gap: .5em; align-items: center; margin: .35em 0; }
.track { position: relative; height: 16px; background: #30363d; border-radius: 3px; }
.track .soft { position: absolute; top: 0; bottom: 0; background: #3a2f1c; }
.track .m, .track .c { position: absolute; top: 0; width: 0; height: 16px; }
.track .m::after { content: "●"; position: absolute; left: -.35em; top: -2px; color: #58a6ff; }
.track .c::after { content: "▲"; position: absolute; left: -.35em; top: 1px; font-size: 11px; color: var(--warn); }
.value { font-variant-numeric: tabular-nums; text-align: right; color: var(--dim); }
button { font: inherit; padding: .4em .9em; border-radius: 4px; border: 1px solid #444c56; background: #30363d; color: var(--fg); cursor: pointer; }
button.stop { width: 100%; padding: .8em; font-size: 1.4em; font-weight: bold; background: #b62324; border-color: #f85149; color: #fff; margin-bottom: .6em; }
input { font: inherit; padding: .4em; border-radius: 4px; border: 1px solid #444c56; background: #0d1014; color: var(--fg); flex: 1; min-width: 6em; }
.row { display: flex; gap: .4em; margin: .4em 0; }
#ack { min-height: 1.4em; margin: .4em 0; } #ack.bad { color: var(--bad); } #ack.good { color: var(--ok); }
dl { display: grid; grid-template-columns: auto 1fr; gap: .2em 1em; margin: .6em 0 0; } dt { color: var(--dim); } dd { margin: 0; font-variant-numeric: tabular-nums; }
#events { margin: 0; padding: 0; list-style: none; font-size: .92em; max-height: 22em; overflow: auto; } #events li { margin: .15em 0; } #events .tick { color: var(--dim); }
`;

export const PAGE_JS = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  let hello = null, ws = null, nextId = 1, retry = 500;
  const cams = [], pads = [], joints = [], numbers = {};

  function setAck(ok, text) { const a = $('ack'); a.textContent = text; a.className = ok ? 'good' : 'bad'; }

  function build(h) {
    hello = h;
    $('robot').textContent = h.robot_id + (h.policy ? ' · ' + h.policy : '');
    const cameras = $('cameras'); cameras.replaceChildren(); cams.length = 0;
    h.cameras.forEach((c) => {
      const canvas = el('canvas', 'camera'); canvas.width = c.width * 4; canvas.height = c.height * 4;
      canvas.dataset.camera = c.name; canvas.dataset.frames = '0';
      cameras.append(el('div', 'dim', c.name), canvas);
      cams.push({ info: c, canvas, ctx: canvas.getContext('2d'), image: null });
    });
    const padBox = $('pads'); padBox.replaceChildren(); pads.length = 0;
    h.fingertips.forEach((f) => {
      const row = el('div', 'pad'); row.dataset.pad = f.name;
      const state = el('span', 'state', 'off'), bar = el('div', 'bar'), fill = el('i'), value = el('span', 'value', '0');
      bar.append(fill); row.append(el('span', '', f.name), state, bar, value); padBox.append(row);
      pads.push({ info: f, row, state, fill, value });
    });
    const jointBox = $('joints'); jointBox.replaceChildren(); joints.length = 0;
    h.joints.forEach((j) => {
      const row = el('div', 'joint'), track = el('div', 'track'), m = el('span', 'm'), c = el('span', 'c'), value = el('span', 'value', '');
      row.dataset.joint = j.name; track.append(m, c); row.append(el('span', '', j.name), track, value); jointBox.append(row);
      joints.push({ info: j, m, c, value });
    });
    const dl = $('numbers'); dl.replaceChildren();
    ['tick', 'tick lateness p99', 'missed ticks', 'inference p50 / p99', 'instruction', 'policy', 'task', 'page updates'].forEach((k) => {
      const dd = el('dd', '', '–'); dl.append(el('dt', '', k), dd); numbers[k] = dd;
    });
    numbers['policy'].textContent = h.policy || '–';
    $('stop').disabled = false;
  }

  const frac = (j, v) => Math.max(0, Math.min(1, (v - j.min) / (j.max - j.min)));
  let updates = 0;
  function state(s) {
    updates++;
    const mode = $('mode'); mode.textContent = s.mode; mode.dataset.mode = s.mode;
    $('cause').textContent = s.cause ? 'cause: ' + s.cause : '';
    const link = $('link'); link.textContent = 'MQTT ' + s.mqtt; link.className = 'link' + (s.mqtt === 'connected' ? ' on' : '');
    joints.forEach((j, i) => {
      const p = s.position[i], c = s.command[i];
      j.m.style.left = (frac(j.info, p) * 100).toFixed(2) + '%';
      j.c.style.left = (frac(j.info, c) * 100).toFixed(2) + '%';
      j.value.textContent = p.toFixed(3);
    });
    pads.forEach((p, i) => {
      const on = s.in_contact[i] === 1;
      p.row.classList.toggle('on', on); p.row.dataset.contact = on ? 'on' : 'off';
      p.state.textContent = on ? 'CONTACT' : 'off';
      p.fill.style.width = (Math.max(0, Math.min(1, s.contact[i])) * 100).toFixed(1) + '%';
      p.value.textContent = s.force[i].toFixed(2);
    });
    numbers['tick'].textContent = String(s.tick);
    numbers['tick lateness p99'].textContent = s.lateness_us.p99 + ' µs (max ' + Math.round(s.lateness_us.max) + ')';
    numbers['missed ticks'].textContent = String(s.missed);
    numbers['inference p50 / p99'].textContent = s.inference_ms.p50.toFixed(2) + ' / ' + s.inference_ms.p99.toFixed(2) + ' ms';
    numbers['instruction'].textContent = s.instruction || '(none)';
    numbers['task'].textContent = s.task || '–';
    numbers['page updates'].textContent = String(updates);
    const list = $('events'); list.replaceChildren();
    s.events.slice().reverse().forEach((e) => { const li = el('li'); li.append(el('span', 'tick', '#' + e.tick + ' '), document.createTextNode(e.message)); list.append(li); });
    cams.forEach(draw);
  }

  function draw(cam) {
    const { ctx, canvas, info } = cam;
    if (cam.image) ctx.drawImage(cam.image, 0, 0, canvas.width, canvas.height);
    const sx = canvas.width / info.width, sy = canvas.height / info.height;
    pads.forEach((p) => {
      if (p.info.camera !== info.name) return;
      const [x, y, w, h] = p.info.roi;
      ctx.lineWidth = 3; ctx.strokeStyle = p.row.classList.contains('on') ? '#3fb950' : '#d29922';
      ctx.strokeRect(x * sx, y * sy, w * sx, h * sy);
    });
  }

  async function frame(buffer) {
    const bytes = new Uint8Array(buffer); const cam = cams[bytes[0]]; if (!cam) return;
    const image = await createImageBitmap(new Blob([bytes.subarray(1)], { type: 'image/jpeg' }));
    if (cam.image) cam.image.close();
    cam.image = image; cam.canvas.dataset.frames = String(Number(cam.canvas.dataset.frames) + 1);
    draw(cam);
  }

  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live';
    ws = new WebSocket(url); ws.binaryType = 'arraybuffer';
    ws.onopen = () => { retry = 500; };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') { void frame(m.data); return; }
      const msg = JSON.parse(m.data);
      if (msg.type === 'hello') build(msg);
      else if (msg.type === 'state') state(msg);
      else if (msg.type === 'ack') setAck(msg.ok, msg.ok ? 'done' : msg.reason);
    };
    ws.onclose = () => { $('mode').textContent = 'disconnected'; $('mode').dataset.mode = 'BOOT'; setTimeout(connect, retry); retry = Math.min(retry * 2, 5000); };
  }

  /** Over the WebSocket when it is open; else a POST, so Stop works while the socket reconnects. */
  function send(command) {
    const token = $('token').value;
    if (token && command.command !== 'stop') command.token = token;
    command.id = 'page-' + nextId++;
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(command)); return; }
    fetch('/api/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(command) })
      .then((r) => r.json()).then((a) => setAck(a.ok, a.ok ? 'done' : a.reason)).catch((e) => setAck(false, 'not sent: ' + e));
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('stop').addEventListener('click', () => send({ kind: 'mode', command: 'stop' }));
    $('arm').addEventListener('click', () => send({ kind: 'mode', command: 'arm' }));
    $('reset').addEventListener('click', () => send({ kind: 'mode', command: 'reset' }));
    $('instruction-send').addEventListener('click', () => send({ kind: 'instruction', text: $('instruction-text').value }));
    connect();
  });
})();
`;
