// Splat file decoders of splatkit's viewer: SOG (stored ZIP or folder, meta.json v2, lossless WebP)
// and 3DGS binary PLY. Written for splatkit; the layouts follow splatkit.io.sog (see its module
// docstrings: v2.py, packing.py) and splatkit.io.ply. Everything decodes to one in-memory form:
//
//   {count, shDegree, means [3N], scales [3N] (activated), quats [4N] (w,x,y,z, unit),
//    opacities [N] (activated), sh [N * (shDegree+1)^2 * 3] (coefficient-major, RGB last),
//    georeference (object or null), format}
//
// `broken` names a decode step to break on purpose (test-only query flag ?break=...):
// "quat-order" reads quaternions as (x, y, z, w); "sh-palette" ignores the higher-order SH;
// "rgb-order" reads the colour channels as B, G, R.

const SQRT2 = Math.SQRT2;
const SH_REST = [0, 3, 8, 15];

// ---------------------------------------------------------------------------------------------
// ZIP (the .sog container): the central directory, stored or deflated members.

async function readZip(buffer) {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  let eocd = -1;
  for (let i = buffer.byteLength - 22; i >= Math.max(0, buffer.byteLength - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error("not a ZIP file (no end-of-central-directory record): is this a .sog?");
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const members = new Map();
  const decoder = new TextDecoder();
  for (let e = 0; e < entries; e++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("damaged ZIP central directory");
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    if (view.getUint32(local, true) !== 0x04034b50) throw new Error(`damaged ZIP entry ${name}`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    members.set(name, {method, data: bytes.subarray(start, start + compressed)});
    at += 46 + nameLen + extraLen + commentLen;
  }
  return {
    has: (name) => members.has(name),
    async read(name) {
      const m = members.get(name);
      if (!m) throw new Error(`the .sog has no member ${name}`);
      if (m.method === 0) return m.data;
      if (m.method === 8) {
        const stream = new Blob([m.data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
        return new Uint8Array(await new Response(stream).arrayBuffer());
      }
      throw new Error(`ZIP member ${name} uses compression method ${m.method}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// WebP -> exact RGBA bytes. The browser decodes; colour-space conversion and premultiplication
// are both off (SOG texels are data, and an alpha-0 texel keeps its RGB), and the bytes are read
// back through a WebGL texture, which keeps them as decoded (a 2D canvas would premultiply).

async function decodeWebp(gl, data, name) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([data], {type: "image/webp"}),
                                     {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  } catch (err) {
    throw new Error(`SOG member ${name} is not a decodable WebP image (${err.message})`);
  }
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
  gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
  gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
  const fb = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
  const width = bitmap.width, height = bitmap.height;
  const pixels = new Uint8Array(width * height * 4);
  gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  gl.deleteFramebuffer(fb);
  gl.deleteTexture(tex);
  bitmap.close();
  return {width, height, pixels};
}

// ---------------------------------------------------------------------------------------------
// SOG v2

function need(meta, path) {
  let node = meta;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) {
      throw new Error(`meta.json: missing key '${path}'`);
    }
    node = node[part];
  }
  return node;
}

function patchedCodebook(meta, key) {
  const cb = need(meta, `${key}.codebook`).slice();
  // Older splat-transform wrote null for a -Infinity entry 0; patched as the PlayCanvas engine does.
  if (cb[0] === null) cb[0] = cb[1] + (cb[1] - cb[255]) / 255;
  return Float64Array.from(cb);
}

async function decodeSog(gl, readMember, broken) {
  const meta = JSON.parse(new TextDecoder().decode(await readMember("meta.json")));
  if (meta.version !== 2) {
    throw new Error("this SOG is a legacy v1 (SOGS) file; the viewer reads v2: convert it with " +
                    "`splatkit decompress IN.sog OUT.ply` and view the PLY");
  }
  const files = {
    means: need(meta, "means.files"), quats: need(meta, "quats.files")[0],
    scales: need(meta, "scales.files")[0], sh0: need(meta, "sh0.files")[0],
  };
  const image = async (name) => decodeWebp(gl, await readMember(name), name);
  const [ml, mu, qt, sc, s0] = await Promise.all(
    [files.means[0], files.means[1], files.quats, files.scales, files.sh0].map(image));
  const total = need(meta, "count");
  if (ml.width * ml.height < total) throw new Error(`SOG images hold fewer than count=${total} splats`);
  const ext = meta.splatkit && typeof meta.splatkit === "object" ? meta.splatkit : {};
  // splatkit's PLAS padding: transparent splats marked by alpha 0 in scales (see splatkit.io.sog.v2).
  const keep = [];
  for (let i = 0; i < total; i++) {
    if (!(ext.padding > 0 && sc.pixels[4 * i + 3] === 0)) keep.push(i);
  }
  const n = keep.length;
  const mins = need(meta, "means.mins"), maxs = need(meta, "means.maxs");
  const offset = Array.isArray(ext.offset) && ext.offset.length === 3 ? ext.offset : [0, 0, 0];
  const scalesCb = patchedCodebook(meta, "scales"), sh0Cb = patchedCodebook(meta, "sh0");
  let degree = meta.shN ? need(meta, "shN.bands") : 0;
  let palette = null, labels = null, paletteCb = null;
  if (degree > 0 && broken !== "sh-palette") {
    const [centroidsName, labelsName] = need(meta, "shN.files");
    palette = await image(centroidsName);
    labels = await image(labelsName);
    paletteCb = patchedCodebook(meta, "shN");
    if (palette.width !== 64 * SH_REST[degree]) {
      throw new Error(`SOG member ${centroidsName} is ${palette.width} wide; ${degree} SH bands need ` +
                      `${64 * SH_REST[degree]}`);
    }
  } else if (broken === "sh-palette") {
    degree = 0;
  }
  const nb = (degree + 1) * (degree + 1);
  const out = {
    count: n, shDegree: degree, format: "sog", georeference: ext.georeference || null,
    antialiased: meta.model === "antialiased",
    means: new Float32Array(3 * n), scales: new Float32Array(3 * n), quats: new Float32Array(4 * n),
    opacities: new Float32Array(n), sh: new Float32Array(n * nb * 3),
  };
  const K = SH_REST[degree];
  const quat = [1, 0, 0, 0];
  for (let k = 0; k < n; k++) {
    const i = keep[k], p = 4 * i;
    for (let a = 0; a < 3; a++) {
      const q = ml.pixels[p + a] + 256 * mu.pixels[p + a];
      const span = (maxs[a] - mins[a]) || 1;
      const s = mins[a] + span * (q / 65535);
      out.means[3 * k + a] = Math.sign(s) * Math.expm1(Math.abs(s)) + offset[a];
      out.scales[3 * k + a] = Math.exp(scalesCb[sc.pixels[p + a]]);
      out.sh[k * nb * 3 + a] = sh0Cb[s0.pixels[p + (broken === "rgb-order" ? 2 - a : a)]];
    }
    const alpha = Math.min(Math.max(s0.pixels[p + 3] / 255, 1e-6), 1 - 1e-6);
    out.opacities[k] = alpha;
    // Smallest-three quaternion: A = 252 + index of the largest component in (w, x, y, z).
    const tag = qt.pixels[p + 3];
    if (tag >= 252) {
      const m = tag - 252;
      const a = (qt.pixels[p] / 255 * 2 - 1) / SQRT2, b = (qt.pixels[p + 1] / 255 * 2 - 1) / SQRT2;
      const c = (qt.pixels[p + 2] / 255 * 2 - 1) / SQRT2;
      const d = Math.sqrt(Math.max(0, 1 - a * a - b * b - c * c));
      quat[0] = m === 0 ? d : a;
      quat[1] = m === 0 ? a : m === 1 ? d : b;
      quat[2] = m <= 1 ? b : m === 2 ? d : c;
      quat[3] = m === 3 ? d : c;
    } else {
      quat[0] = 1; quat[1] = 0; quat[2] = 0; quat[3] = 0;
    }
    setQuat(out.quats, k, quat, broken);
    if (K > 0) {
      const label = labels.pixels[p] + 256 * labels.pixels[p + 1];
      const row = Math.floor(label / 64), col = (label % 64) * K;
      for (let j = 0; j < K; j++) {
        const t = 4 * (row * palette.width + col + j);
        for (let c = 0; c < 3; c++) out.sh[(k * nb + 1 + j) * 3 + c] = paletteCb[palette.pixels[t + c]];
      }
    }
  }
  return out;
}

function setQuat(quats, k, q, broken) {
  // The broken decode reads the components in (x, y, z, w) order.
  const [w, x, y, z] = broken === "quat-order" ? [q[1], q[2], q[3], q[0]] : q;
  const norm = Math.hypot(w, x, y, z) || 1;
  quats[4 * k] = w / norm; quats[4 * k + 1] = x / norm; quats[4 * k + 2] = y / norm; quats[4 * k + 3] = z / norm;
}

// ---------------------------------------------------------------------------------------------
// 3DGS PLY (binary; the server re-encodes ASCII files)

const PLY_TYPES = {
  char: ["Int8", 1], int8: ["Int8", 1], uchar: ["Uint8", 1], uint8: ["Uint8", 1],
  short: ["Int16", 2], int16: ["Int16", 2], ushort: ["Uint16", 2], uint16: ["Uint16", 2],
  int: ["Int32", 4], int32: ["Int32", 4], uint: ["Uint32", 4], uint32: ["Uint32", 4],
  float: ["Float32", 4], float32: ["Float32", 4], double: ["Float64", 8], float64: ["Float64", 8],
};

function decodePly(buffer, broken) {
  const bytes = new Uint8Array(buffer);
  const marker = new TextEncoder().encode("end_header");
  let end = -1;
  for (let i = 0; i < Math.min(bytes.length, 1 << 20); i++) {
    let match = true;
    for (let j = 0; j < marker.length; j++) if (bytes[i + j] !== marker[j]) { match = false; break; }
    if (match) { end = i + marker.length; break; }
  }
  if (end < 0) throw new Error("not a PLY file (no end_header)");
  while (bytes[end] === 13 || bytes[end] === 32) end++;
  end += 1; // the newline
  const lines = new TextDecoder().decode(bytes.subarray(0, end)).split(/\r?\n/);
  let little = true, georeference = null;
  const elements = [];
  for (const line of lines) {
    const t = line.trim().split(/\s+/);
    if (t[0] === "format") {
      if (t[1] === "ascii") throw new Error("ASCII PLY reached the page; the server should re-encode it");
      little = t[1] === "binary_little_endian";
    } else if (t[0] === "comment" && t[1] === "splatkit_georeference") {
      georeference = {lat: +t[2], lon: +t[3], alt: +t[4]};
    } else if (t[0] === "element") {
      elements.push({name: t[1], count: +t[2], props: []});
    } else if (t[0] === "property") {
      if (t[1] === "list") throw new Error(`PLY list property ${t[4]} is not supported by the viewer`);
      const type = PLY_TYPES[t[1]];
      if (!type) throw new Error(`unknown PLY type ${t[1]}`);
      elements[elements.length - 1].props.push({name: t[2], getter: "get" + type[0], size: type[1]});
    }
  }
  let offset = end;
  let vertex = null;
  for (const el of elements) {
    let stride = 0;
    for (const p of el.props) { p.offset = stride; stride += p.size; }
    el.stride = stride;
    el.start = offset;
    if (el.name === "vertex") { vertex = el; break; }
    offset += stride * el.count;
  }
  if (!vertex) throw new Error("the PLY has no vertex element");
  const byName = new Map(vertex.props.map((p) => [p.name, p]));
  const required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                    "rot_0", "rot_1", "rot_2", "rot_3"];
  const missing = required.filter((name) => !byName.has(name));
  if (missing.length) throw new Error(`not a 3DGS PLY: no ${missing.join(", ")}`);
  let rest = 0;
  while (byName.has(`f_rest_${rest}`)) rest++;
  const K = rest / 3;
  let degree = SH_REST.indexOf(K);
  if (degree < 0) throw new Error(`${rest} f_rest properties; a 3DGS PLY has 0, 9, 24 or 45`);
  if (broken === "sh-palette") degree = 0;
  const n = vertex.count, nb = (degree + 1) * (degree + 1);
  if (vertex.start + vertex.stride * n > buffer.byteLength) throw new Error("the PLY file is truncated");
  const view = new DataView(buffer);
  const read = (name) => {
    const p = byName.get(name);
    const get = view[p.getter].bind(view);
    const out = new Float64Array(n);
    for (let i = 0, at = vertex.start + p.offset; i < n; i++, at += vertex.stride) out[i] = get(at, little);
    return out;
  };
  const out = {
    count: n, shDegree: degree, format: "ply", georeference,
    means: new Float32Array(3 * n), scales: new Float32Array(3 * n), quats: new Float32Array(4 * n),
    opacities: new Float32Array(n), sh: new Float32Array(n * nb * 3),
  };
  ["x", "y", "z"].forEach((name, a) => read(name).forEach((v, i) => { out.means[3 * i + a] = v; }));
  [0, 1, 2].forEach((a) => read(`scale_${a}`).forEach((v, i) => { out.scales[3 * i + a] = Math.exp(v); }));
  [0, 1, 2].forEach((c) => read(`f_dc_${broken === "rgb-order" ? 2 - c : c}`).forEach((v, i) => {
    out.sh[i * nb * 3 + c] = v;
  }));
  read("opacity").forEach((v, i) => { out.opacities[i] = 1 / (1 + Math.exp(-v)); });
  const rot = [0, 1, 2, 3].map((a) => read(`rot_${a}`));
  for (let i = 0; i < n; i++) setQuat(out.quats, i, [rot[0][i], rot[1][i], rot[2][i], rot[3][i]], broken);
  // f_rest is channel-major: f_rest_{c*K + j} is coefficient j + 1 of channel c.
  for (let c = 0; c < 3 && degree > 0; c++) {
    for (let j = 0; j < K; j++) {
      read(`f_rest_${c * K + j}`).forEach((v, i) => { out.sh[(i * nb + 1 + j) * 3 + c] = v; });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export async function loadSplats(gl, info, broken, onStatus) {
  onStatus(`loading ${info.name}`);
  if (info.format === "ply") {
    const buffer = await (await fetchOk(info.url)).arrayBuffer();
    onStatus("decoding PLY");
    return decodePly(buffer, broken);
  }
  if (info.layout === "folder") {
    const base = info.url.slice(0, info.url.lastIndexOf("/") + 1);
    const read = async (name) => new Uint8Array(await (await fetchOk(base + encodeURIComponent(name))).arrayBuffer());
    onStatus("decoding SOG");
    return decodeSog(gl, read, broken);
  }
  const zip = await readZip(await (await fetchOk(info.url)).arrayBuffer());
  onStatus("decoding SOG");
  return decodeSog(gl, (name) => zip.read(name), broken);
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}
