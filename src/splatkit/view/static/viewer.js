// splatkit view: the page. Loads /view.json (what to show), decodes the splats (formats.js),
// sorts them in a worker (sort-worker.js), draws them (splats.js) and handles the camera.
//
// Camera convention = splatkit's renderers (splatkit/render/rasterize.py): cam_from_world with
// OpenCV axes (x right, y down, z forward) and pinhole K in pixels. The URL fragment holds it:
//   #viewmat=<12 numbers: rows of the 3x4 cam_from_world>&K=fx,fy,cx,cy&size=W,H
// (splatkit/view/camera.py writes and reads the same). A canvas of another size keeps the
// vertical field of view. Query flags: ?hud=0 hides the panel, ?bg=rrggbb sets the background,
// ?break=quat-order|sh-palette|rgb-order breaks the decode on purpose (tests prove they would notice).

import {loadSplats} from "/viewer/formats.js";
import {SplatRenderer} from "/viewer/splats.js";

const query = new URLSearchParams(location.search);
const broken = query.get("break") || "";
const state = {ready: false, error: null, count: 0, shDegree: null, bytes: 0, broken,
               cameraVersion: 0, sortedVersion: -1, drawnVersion: -1};
window.splatkitViewer = state;

const canvas = document.getElementById("canvas");
const $ = (id) => document.getElementById(id);
if (query.get("hud") === "0") document.body.classList.add("bare");
const background = /^[0-9a-fA-F]{6}$/.test(query.get("bg") || "")
  ? [0, 2, 4].map((i) => parseInt(query.get("bg").slice(i, i + 2), 16) / 255) : [27 / 255, 29 / 255, 34 / 255];

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function fail(err) {
  state.error = String(err && err.message ? err.message : err);
  setStatus(state.error, true);
}

// ---------------------------------------------------------------------------------------------
// Small vector helpers

const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const normalize = (a) => scale(a, 1 / (Math.hypot(a[0], a[1], a[2]) || 1));

// ---------------------------------------------------------------------------------------------
// Camera: eye, yaw, pitch in the frame of the "up" axis; an orbit target `distance` ahead.

const UPS = [{name: "+z", up: [0, 0, 1], e1: [1, 0, 0]}, {name: "-y", up: [0, -1, 0], e1: [1, 0, 0]},
             {name: "+y", up: [0, 1, 0], e1: [1, 0, 0]}, {name: "-z", up: [0, 0, -1], e1: [1, 0, 0]}];
const cam = {up: UPS[0], eye: [0, 0, 10], yaw: 0, pitch: -0.5, distance: 10, fly: false,
             explicit: null, fovY: 50 * Math.PI / 180, home: null, sceneSize: 1};

function basis() {
  const u = cam.up.up, e1 = cam.up.e1;
  return {u, e1, e2: cross(u, e1)};
}

function forward() {
  const {u, e1, e2} = basis();
  const c = Math.cos(cam.pitch);
  return normalize(add(add(scale(e1, c * Math.cos(cam.yaw)), scale(e2, c * Math.sin(cam.yaw))),
                       scale(u, Math.sin(cam.pitch))));
}

function viewmat() {
  if (cam.explicit) return cam.explicit.viewmat;
  const f = forward();
  const r = normalize(cross(f, cam.up.up));
  const d = cross(f, r);
  const t = [-dot(r, cam.eye), -dot(d, cam.eye), -dot(f, cam.eye)];
  return [r[0], r[1], r[2], t[0], d[0], d[1], d[2], t[1], f[0], f[1], f[2], t[2]];
}

function intrinsics(w, h) {
  if (cam.explicit) {
    const [fx, fy, cx, cy] = cam.explicit.K;
    const [W, H] = cam.explicit.size;
    const s = h / H;
    return [fx * s, fy * s, (cx - W / 2) * s + w / 2, (cy - H / 2) * s + h / 2];
  }
  const f = 0.5 * h / Math.tan(cam.fovY / 2);
  return [f, f, w / 2, h / 2];
}

// Leave an explicit (fragment) camera for the yaw/pitch one, keeping where it looks.
function takeControl() {
  if (!cam.explicit) return;
  const v = cam.explicit.viewmat;
  const f = [v[8], v[9], v[10]];
  cam.eye = [-(v[0] * v[3] + v[4] * v[7] + v[8] * v[11]), -(v[1] * v[3] + v[5] * v[7] + v[9] * v[11]),
             -(v[2] * v[3] + v[6] * v[7] + v[10] * v[11])];
  const {u, e1, e2} = basis();
  cam.yaw = Math.atan2(dot(f, e2), dot(f, e1));
  cam.pitch = Math.asin(Math.max(-1, Math.min(1, dot(f, u))));
  const [fx, fy] = intrinsics(canvas.width, canvas.height);
  cam.fovY = 2 * Math.atan(0.5 * canvas.height / fy);
  cam.explicit = null;
}

function fragment() {
  const w = canvas.width, h = canvas.height;
  const fmt = (a) => a.map((x) => +x.toPrecision(9)).join(",");
  return `viewmat=${fmt(viewmat())}&K=${fmt(intrinsics(w, h))}&size=${w},${h}`;
}

function parseFragment(hash) {
  const fields = new URLSearchParams(hash.replace(/^#/, ""));
  const nums = (key, count) => {
    const text = fields.get(key);
    if (text === null) return null;
    const values = text.split(",").map(Number);
    return values.length === count && values.every(Number.isFinite) ? values : null;
  };
  const v = nums("viewmat", 12), K = nums("K", 4), size = nums("size", 2);
  if (!v) return null;
  return {viewmat: v, K: K || null, size: size || null};
}

function applyFragment() {
  const parsed = parseFragment(location.hash);
  if (!parsed) return false;
  const w = canvas.width, h = canvas.height;
  const K = parsed.K || intrinsics(w, h);
  cam.explicit = {viewmat: parsed.viewmat, K, size: parsed.size || [w, h]};
  return true;
}

let lastWritten = "";
let writeTimer = 0;
function cameraChanged() {
  state.cameraVersion++;
  state.ready = false;
  requestSort();
  requestDraw();
  clearTimeout(writeTimer);
  writeTimer = setTimeout(() => {
    lastWritten = "#" + fragment();
    if (location.hash !== lastWritten) history.replaceState(null, "", lastWritten);
  }, 300);
}

window.addEventListener("hashchange", () => {
  if (location.hash === lastWritten) return;
  if (applyFragment()) cameraChanged();
});

// ---------------------------------------------------------------------------------------------
// Sorting and drawing

let gl = null, renderer = null, worker = null;
let sortInFlight = false, drawPending = false;

function requestSort() {
  if (!worker || sortInFlight) return;
  sortInFlight = true;
  worker.postMessage({type: "sort", id: state.cameraVersion, viewmat: viewmat()});
}

function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
}

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    return true;
  }
  return false;
}

function draw() {
  drawPending = false;
  if (!renderer) return;
  if (resize()) { cameraChanged(); return; }
  moveFly();
  renderer.draw({viewmat: viewmat(), K: intrinsics(canvas.width, canvas.height)}, canvas.width, canvas.height,
                background);
  state.drawnVersion = state.sortedVersion;
  state.ready = state.drawnVersion === state.cameraVersion;
  if (Object.values(keys).some(Boolean) && cam.fly) requestDraw();
}

// ---------------------------------------------------------------------------------------------
// Controls

const keys = {};
let drag = null;

canvas.addEventListener("contextmenu", (e) => e.preventDefault());
canvas.addEventListener("pointerdown", (e) => {
  takeControl();
  canvas.setPointerCapture(e.pointerId);
  canvas.focus();
  drag = {x: e.clientX, y: e.clientY, pan: e.button === 2 || e.button === 1 || e.shiftKey};
});
canvas.addEventListener("pointerup", () => { drag = null; });
canvas.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  drag.x = e.clientX; drag.y = e.clientY;
  if (drag.pan) {
    const f = forward(), r = normalize(cross(f, cam.up.up)), d = cross(f, r);
    const perPixel = 2 * cam.distance * Math.tan(cam.fovY / 2) / canvas.clientHeight;
    cam.eye = add(cam.eye, add(scale(r, -dx * perPixel), scale(d, -dy * perPixel)));
  } else if (cam.fly) {
    cam.yaw -= dx * 0.004;
    cam.pitch = clampPitch(cam.pitch - dy * 0.004);
  } else {
    const target = add(cam.eye, scale(forward(), cam.distance));
    cam.yaw -= dx * 0.006;
    cam.pitch = clampPitch(cam.pitch - dy * 0.006);
    cam.eye = sub(target, scale(forward(), cam.distance));
  }
  cameraChanged();
});
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  takeControl();
  const factor = Math.exp(Math.sign(e.deltaY) * Math.min(Math.abs(e.deltaY), 200) * 0.0015);
  if (cam.fly) {
    cam.eye = add(cam.eye, scale(forward(), -Math.sign(e.deltaY) * 0.05 * cam.sceneSize));
  } else {
    const target = add(cam.eye, scale(forward(), cam.distance));
    cam.distance = Math.max(1e-3 * cam.sceneSize, cam.distance * factor);
    cam.eye = sub(target, scale(forward(), cam.distance));
  }
  cameraChanged();
}, {passive: false});

function clampPitch(p) {
  return Math.max(-1.5607, Math.min(1.5607, p));  // +-89.4 deg: the up axis stays defined
}

window.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement) return;
  const k = e.key.toLowerCase();
  if (k === "f") { toggleFly(); return; }
  if (k === "u") { cycleUp(); return; }
  if (k === "r") { resetView(); return; }
  if ("wasdqe".includes(k) || e.key.startsWith("Arrow")) {
    takeControl();
    keys[e.key.startsWith("Arrow") ? e.key : k] = true;
    keys.shift = e.shiftKey;
    if (!cam.fly) toggleFly();
    requestDraw();
  }
});
window.addEventListener("keyup", (e) => {
  keys[e.key.startsWith("Arrow") ? e.key : e.key.toLowerCase()] = false;
  keys.shift = e.shiftKey;
});

let lastMove = 0;
function moveFly() {
  const now = performance.now();
  const dt = Math.min(0.1, (now - lastMove) / 1000);
  lastMove = now;
  if (!cam.fly || !Object.entries(keys).some(([k, v]) => v && k !== "shift")) return;
  const speed = 0.25 * cam.sceneSize * (keys.shift ? 4 : 1) * dt;
  const f = forward(), r = normalize(cross(f, cam.up.up)), u = cam.up.up;
  let step = [0, 0, 0];
  if (keys.w || keys.ArrowUp) step = add(step, f);
  if (keys.s || keys.ArrowDown) step = sub(step, f);
  if (keys.d || keys.ArrowRight) step = add(step, r);
  if (keys.a || keys.ArrowLeft) step = sub(step, r);
  if (keys.e) step = add(step, u);
  if (keys.q) step = sub(step, u);
  cam.eye = add(cam.eye, scale(step, speed));
  state.cameraVersion++;
  requestSort();
  clearTimeout(writeTimer);
  writeTimer = setTimeout(() => { lastWritten = "#" + fragment(); history.replaceState(null, "", lastWritten); }, 300);
}

function toggleFly() {
  takeControl();
  cam.fly = !cam.fly;
  $("mode").textContent = cam.fly ? "orbit mode" : "fly mode";
  lastMove = performance.now();
}

function cycleUp() {
  takeControl();
  const f = forward();
  cam.up = UPS[(UPS.indexOf(cam.up) + 1) % UPS.length];
  const {u, e1, e2} = basis();
  cam.yaw = Math.atan2(dot(f, e2), dot(f, e1));
  cam.pitch = clampPitch(Math.asin(Math.max(-1, Math.min(1, dot(f, u)))));
  $("up").textContent = `up: ${cam.up.name}`;
  cameraChanged();
}

function resetView() {
  cam.explicit = null;
  Object.assign(cam, cam.home);
  cameraChanged();
}

$("mode").addEventListener("click", toggleFly);
$("up").addEventListener("click", cycleUp);
$("reset").addEventListener("click", resetView);
$("share").addEventListener("click", async () => {
  lastWritten = "#" + fragment();
  history.replaceState(null, "", lastWritten);
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus("view link copied");
  } catch (err) {
    setStatus("the address bar holds this view's link");
  }
});

// ---------------------------------------------------------------------------------------------
// Start

function homeView(splats) {
  // Robust centre and size: the per-axis median and the 90th percentile distance from it.
  const n = splats.count, step = Math.max(1, Math.floor(n / 20000));
  const sample = [[], [], []];
  for (let i = 0; i < n; i += step) for (let a = 0; a < 3; a++) sample[a].push(splats.means[3 * i + a]);
  const centre = sample.map((s) => s.sort((x, y) => x - y)[Math.floor(s.length / 2)] || 0);
  const dists = [];
  for (let i = 0; i < sample[0].length; i++) {
    dists.push(Math.hypot(sample[0][i] - centre[0], sample[1][i] - centre[1], sample[2][i] - centre[2]));
  }
  dists.sort((x, y) => x - y);
  const size = Math.max(dists[Math.floor(0.9 * (dists.length - 1))] || 1, 1e-3);
  cam.sceneSize = size;
  cam.distance = 2.2 * size;
  cam.yaw = -Math.PI / 2;
  cam.pitch = -0.6;  // look down at the ground, as from a drone
  cam.eye = sub(centre, scale(forward(), cam.distance));
  cam.home = {eye: cam.eye.slice(), yaw: cam.yaw, pitch: cam.pitch, distance: cam.distance, fly: false};
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

async function main() {
  const response = await fetch("/view.json");
  const info = await response.json();
  if (info.error) throw new Error(info.error);
  $("title").textContent = info.name;
  gl = canvas.getContext("webgl2", {antialias: false, alpha: false, depth: false, stencil: false,
                                    preserveDrawingBuffer: true, premultipliedAlpha: true});
  if (!gl) throw new Error("this browser has no WebGL2");
  const splats = await loadSplats(gl, info, broken, setStatus);
  // Georeferenced scenes are East-North-Up: +z is up. Otherwise guess the COLMAP/3DGS habit (-y).
  cam.up = splats.georeference || info.georeference ? UPS[0] : UPS[1];
  $("up").textContent = `up: ${cam.up.name}`;
  state.count = splats.count;
  state.shDegree = splats.shDegree;
  state.bytes = info.bytes;
  const geo = splats.georeference || info.georeference;
  $("facts").textContent = `${splats.count.toLocaleString("en")} splats · ${formatBytes(info.bytes)} · ` +
    `SH degree ${splats.shDegree}` + (geo ? ` · georeferenced (${(+geo.lat).toFixed(5)}, ${(+geo.lon).toFixed(5)})` : "");
  setStatus(broken ? `decode broken on purpose (test flag break=${broken})` : "", Boolean(broken));
  homeView(splats);
  resize();
  applyFragment();
  renderer = new SplatRenderer(gl, splats);
  worker = new Worker("/viewer/sort-worker.js");
  worker.onmessage = (event) => {
    sortInFlight = false;
    renderer.setOrder(event.data.order);
    state.sortedVersion = event.data.id;
    requestDraw();
    if (event.data.id !== state.cameraVersion) requestSort();
  };
  worker.postMessage({type: "init", means: splats.means});
  window.addEventListener("resize", requestDraw);
  cameraChanged();
}

main().catch(fail);
