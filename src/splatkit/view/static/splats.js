// splatkit's WebGL2 Gaussian splat renderer: one instanced quad per splat, drawn back to front.
//
// It reproduces splatkit's CPU rasterizer (splatkit/render/_gaussian_kernels.py, after gsplat
// 1.5.3; "classic" mode, or "antialiased" for a SOG whose meta says so) so that a screenshot can be compared with it: EWA projection with the
// Jacobian's x/y clamped to the field of view plus 30 %, a 0.3 px^2 blur (eps2d), the
// opacity-aware radius min(3.33, sqrt(2 ln(255 opacity))) sigma per axis, alpha = min(0.999,
// opacity exp(-sigma)) dropped below 1/255, SH colours max(SH + 0.5, 0) at the direction
// from the camera centre to the splat, pixel centres at (j + 0.5, i + 0.5).

const VERTEX = `#version 300 es
precision highp float;
precision highp int;
uniform highp sampler2D u_centers;  // xyz, opacity
uniform highp sampler2D u_covs;     // 2 texels: c00 c01 c02 c11 | c12 c22
uniform highp sampler2D u_sh;       // u_shTexels half-float texels of RGB coefficients, coefficient-major
uniform int u_texWidth;
uniform int u_shDegree;
uniform int u_shTexels;
uniform mat3 u_rot;       // cam_from_world rotation
uniform vec3 u_trans;     // cam_from_world translation
uniform vec3 u_campos;
uniform vec4 u_K;         // fx fy cx cy (pixels)
uniform vec2 u_size;      // canvas width, height (pixels)
uniform bool u_antialiased;  // SOG "model": "antialiased": opacity times the blur's compensation
in uint a_index;
out vec3 v_color;
out float v_opacity;
out vec2 v_d;
out vec3 v_conic;

vec4 fetch(sampler2D tex, int i) {
  return texelFetch(tex, ivec2(i % u_texWidth, i / u_texWidth), 0);
}

float coeff(int idx, int k, int c) {
  int f = k * 3 + c;
  vec4 t = fetch(u_sh, idx * u_shTexels + f / 4);
  int j = f % 4;
  return j == 0 ? t.x : j == 1 ? t.y : j == 2 ? t.z : t.w;
}

vec3 shColor(int idx, vec3 dir) {
  float b[16];
  float x = dir.x, y = dir.y, z = dir.z;
  b[0] = 0.2820947917738781;
  int nb = (u_shDegree + 1) * (u_shDegree + 1);
  if (u_shDegree >= 1) {
    b[1] = -0.48860251190292 * y; b[2] = 0.48860251190292 * z; b[3] = -0.48860251190292 * x;
  }
  if (u_shDegree >= 2) {
    float z2 = z * z, fb = -1.092548430592079 * z, fa = 0.5462742152960395;
    b[4] = fa * 2.0 * x * y; b[5] = fb * y; b[6] = 0.9461746957575601 * z2 - 0.3153915652525201;
    b[7] = fb * x; b[8] = fa * (x * x - y * y);
  }
  if (u_shDegree >= 3) {
    float z2 = z * z;
    float fc = -2.285228997322329 * z2 + 0.4570457994644658, fb3 = 1.445305721320277 * z;
    float fa3 = -0.5900435899266435, c1 = x * x - y * y, s1 = 2.0 * x * y;
    b[9] = fa3 * (x * s1 + y * c1); b[10] = fb3 * s1; b[11] = fc * y;
    b[12] = z * (1.865881662950577 * z2 - 1.119528997770346); b[13] = fc * x; b[14] = fb3 * c1;
    b[15] = fa3 * (x * c1 - y * s1);
  }
  vec3 acc = vec3(0.0);
  for (int k = 0; k < 16; k++) {
    if (k >= nb) break;
    acc += b[k] * vec3(coeff(idx, k, 0), coeff(idx, k, 1), coeff(idx, k, 2));
  }
  return max(acc + 0.5, 0.0);
}

void cull() { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); }

void main() {
  int idx = int(a_index);
  vec4 center = fetch(u_centers, idx);
  vec3 p = u_rot * center.xyz + u_trans;
  if (p.z < 0.01) { cull(); return; }
  float fx = u_K.x, fy = u_K.y, cx = u_K.z, cy = u_K.w;
  float w = u_size.x, h = u_size.y;
  vec4 ca = fetch(u_covs, 2 * idx), cb = fetch(u_covs, 2 * idx + 1);
  mat3 sigma = mat3(ca.x, ca.y, ca.z, ca.y, ca.w, cb.x, ca.z, cb.x, cb.y);
  float tanx = 0.5 * w / fx, tany = 0.5 * h / fy;
  float ux = min((w - cx) / fx + 0.3 * tanx, max(-(cx / fx + 0.3 * tanx), p.x / p.z));
  float uy = min((h - cy) / fy + 0.3 * tany, max(-(cy / fy + 0.3 * tany), p.y / p.z));
  // Rows of J (2x3): (fx/z, 0, -fx ux/z), (0, fy/z, -fy uy/z); T = J R.
  vec3 j0 = vec3(fx / p.z, 0.0, -fx * ux / p.z);
  vec3 j1 = vec3(0.0, fy / p.z, -fy * uy / p.z);
  vec3 t0 = j0 * u_rot;   // row vector times matrix = (R^T j0)^T
  vec3 t1 = j1 * u_rot;
  vec3 s0 = sigma * t0, s1 = sigma * t1;
  float c00 = dot(t0, s0), c01 = dot(t0, s1), c11 = dot(t1, s1);
  float detOrig = c00 * c11 - c01 * c01;
  c00 += 0.3;
  c11 += 0.3;
  float det = c00 * c11 - c01 * c01;
  float opacity = u_antialiased ? center.w * sqrt(max(0.0, detOrig / det)) : center.w;
  if (det <= 0.0 || opacity < 1.0 / 255.0) { cull(); return; }
  float extend = min(3.33, sqrt(2.0 * log(opacity * 255.0)));
  vec2 radius = ceil(extend * sqrt(vec2(c00, c11)));
  vec2 mean = vec2(fx * p.x / p.z + cx, fy * p.y / p.z + cy);
  if (mean.x + radius.x <= 0.0 || mean.x - radius.x >= w || mean.y + radius.y <= 0.0 || mean.y - radius.y >= h) {
    cull(); return;
  }
  vec2 corner = vec2((gl_VertexID & 1) == 1 ? 1.0 : -1.0, (gl_VertexID & 2) == 2 ? 1.0 : -1.0) * radius;
  vec2 pixel = mean + corner;
  v_d = corner;
  v_conic = vec3(c11 / det, -c01 / det, c00 / det);
  v_opacity = opacity;
  v_color = shColor(idx, normalize(center.xyz - u_campos));
  gl_Position = vec4(pixel.x / w * 2.0 - 1.0, 1.0 - pixel.y / h * 2.0, 0.0, 1.0);
}`;

const FRAGMENT = `#version 300 es
precision highp float;
in vec3 v_color;
in float v_opacity;
in vec2 v_d;
in vec3 v_conic;
out vec4 fragColor;
void main() {
  float sigma = 0.5 * (v_conic.x * v_d.x * v_d.x + v_conic.z * v_d.y * v_d.y) + v_conic.y * v_d.x * v_d.y;
  if (sigma < 0.0) discard;
  float alpha = min(0.999, v_opacity * exp(-sigma));
  if (alpha < 1.0 / 255.0) discard;
  fragColor = vec4(v_color * alpha, alpha);  // premultiplied, blended ONE, ONE_MINUS_SRC_ALPHA
}`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error("shader: " + gl.getShaderInfoLog(shader));
  }
  return shader;
}

function floatTexture(gl, texels, texWidth, data, half = false) {
  const height = Math.max(1, Math.ceil(texels / texWidth));
  const padded = half ? new Uint16Array(texWidth * height * 4) : new Float32Array(texWidth * height * 4);
  padded.set(data);
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texImage2D(gl.TEXTURE_2D, 0, half ? gl.RGBA16F : gl.RGBA32F, texWidth, height, 0, gl.RGBA,
                half ? gl.HALF_FLOAT : gl.FLOAT, padded);
  return tex;
}

// float32 -> IEEE half bits, rounded to nearest (SH coefficients: ~1e-3 relative is far below
// one 8-bit colour step, and halves the largest texture).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(value) {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 112;
  const mant = x & 0x7fffff;
  if (exp >= 31) return sign | 0x7bff;            // beyond half range: the largest finite half
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - exp);
    return sign | ((m + 0x1000) >>> 13);
  }
  return (sign | (exp << 10) | (mant >>> 13)) + ((mant >>> 12) & 1);
}

export class SplatRenderer {
  constructor(gl, splats) {
    this.gl = gl;
    this.count = splats.count;
    this.shDegree = splats.shDegree;
    this.antialiased = Boolean(splats.antialiased);
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
    this.program = program;
    const n = splats.count;
    const texWidth = Math.min(gl.getParameter(gl.MAX_TEXTURE_SIZE), 4096);
    this.texWidth = texWidth;
    const centers = new Float32Array(4 * n);
    const covs = new Float32Array(8 * n);
    for (let i = 0; i < n; i++) {
      centers[4 * i] = splats.means[3 * i];
      centers[4 * i + 1] = splats.means[3 * i + 1];
      centers[4 * i + 2] = splats.means[3 * i + 2];
      centers[4 * i + 3] = splats.opacities[i];
      const [w, x, y, z] = splats.quats.subarray(4 * i, 4 * i + 4);
      const r = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)];
      const s = splats.scales.subarray(3 * i, 3 * i + 3);
      const m = [r[0] * s[0], r[1] * s[1], r[2] * s[2], r[3] * s[0], r[4] * s[1], r[5] * s[2],
                 r[6] * s[0], r[7] * s[1], r[8] * s[2]];
      const dot = (a, b) => m[3 * a] * m[3 * b] + m[3 * a + 1] * m[3 * b + 1] + m[3 * a + 2] * m[3 * b + 2];
      covs.set([dot(0, 0), dot(0, 1), dot(0, 2), dot(1, 1), dot(1, 2), dot(2, 2), 0, 0], 8 * i);
    }
    const nb = (splats.shDegree + 1) * (splats.shDegree + 1);
    this.shTexels = Math.ceil(nb * 3 / 4);
    const sh = new Uint16Array(n * this.shTexels * 4);
    for (let i = 0; i < n; i++) {
      const from = i * nb * 3, to = i * this.shTexels * 4;
      for (let j = 0; j < nb * 3; j++) sh[to + j] = toHalf(splats.sh[from + j]);
    }
    this.textures = [floatTexture(gl, n, texWidth, centers), floatTexture(gl, 2 * n, texWidth, covs),
                     floatTexture(gl, n * this.shTexels, texWidth, sh, true)];
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    this.indexBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.indexBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, new Uint32Array(0), gl.DYNAMIC_DRAW);
    const loc = gl.getAttribLocation(program, "a_index");
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribIPointer(loc, 1, gl.UNSIGNED_INT, 0, 0);
    gl.vertexAttribDivisor(loc, 1);
    gl.bindVertexArray(null);
    this.visible = 0;
    this.uniforms = {};
    for (const name of ["u_centers", "u_covs", "u_sh", "u_texWidth", "u_shDegree", "u_shTexels", "u_rot", "u_trans",
                        "u_campos", "u_K", "u_size", "u_antialiased"]) {
      this.uniforms[name] = gl.getUniformLocation(program, name);
    }
  }

  setOrder(order) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.indexBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, order, gl.DYNAMIC_DRAW);
    this.visible = order.length;
  }

  // camera: {viewmat: 12 numbers (rows of cam_from_world), K: [fx, fy, cx, cy]}; background: [r, g, b].
  draw(camera, width, height, background) {
    const gl = this.gl, u = this.uniforms, v = camera.viewmat;
    gl.viewport(0, 0, width, height);
    gl.clearColor(background[0], background[1], background[2], 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (this.visible === 0) return;
    gl.useProgram(this.program);
    this.textures.forEach((tex, unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, tex);
    });
    gl.uniform1i(u.u_centers, 0);
    gl.uniform1i(u.u_covs, 1);
    gl.uniform1i(u.u_sh, 2);
    gl.uniform1i(u.u_texWidth, this.texWidth);
    gl.uniform1i(u.u_shDegree, this.shDegree);
    gl.uniform1i(u.u_shTexels, this.shTexels);
    // GLSL matrices are column-major: column j holds R[0][j], R[1][j], R[2][j].
    gl.uniformMatrix3fv(u.u_rot, false, [v[0], v[4], v[8], v[1], v[5], v[9], v[2], v[6], v[10]]);
    gl.uniform3f(u.u_trans, v[3], v[7], v[11]);
    // Camera centre: -R^T t.
    gl.uniform3f(u.u_campos, -(v[0] * v[3] + v[4] * v[7] + v[8] * v[11]), -(v[1] * v[3] + v[5] * v[7] + v[9] * v[11]),
                 -(v[2] * v[3] + v[6] * v[7] + v[10] * v[11]));
    gl.uniform4f(u.u_K, camera.K[0], camera.K[1], camera.K[2], camera.K[3]);
    gl.uniform2f(u.u_size, width, height);
    gl.uniform1i(u.u_antialiased, this.antialiased ? 1 : 0);
    gl.disable(gl.DEPTH_TEST);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.bindVertexArray(this.vao);
    gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, 4, this.visible);
    gl.bindVertexArray(null);
  }
}
