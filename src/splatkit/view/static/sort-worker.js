// Back-to-front order of the splats for one camera, off the main thread.
// Depth is camera-space z (row 2 of cam_from_world), as splatkit's rasterizers sort by; splats
// behind the near plane (z < 0.01) are left out. The sort is exact: an LSD radix sort on the
// float bits of -z (4 passes of 8 bits), stable, so equal depths keep file order.

let means = null;

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    means = msg.means;
    return;
  }
  if (msg.type !== "sort" || means === null) return;
  const v = msg.viewmat; // 12 numbers: rows of the 3x4 cam_from_world
  const n = means.length / 3;
  const keys = new Uint32Array(n);
  const ids = new Uint32Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const z = v[8] * means[3 * i] + v[9] * means[3 * i + 1] + v[10] * means[3 * i + 2] + v[11];
    if (!(z >= 0.01)) continue;
    // Far first: sort ascending on -z; flip float bits so unsigned order equals numeric order.
    f[0] = -z;
    const bits = u[0];
    keys[m] = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    ids[m] = i;
    m++;
  }
  let kIn = keys.subarray(0, m), iIn = ids.subarray(0, m);
  let kOut = new Uint32Array(m), iOut = new Uint32Array(m);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < m; i++) counts[(kIn[i] >>> shift) & 255]++;
    let sum = 0;
    for (let b = 0; b < 256; b++) { const c = counts[b]; counts[b] = sum; sum += c; }
    for (let i = 0; i < m; i++) {
      const at = counts[(kIn[i] >>> shift) & 255]++;
      kOut[at] = kIn[i];
      iOut[at] = iIn[i];
    }
    [kIn, kOut] = [kOut, kIn];
    [iIn, iOut] = [iOut, iIn];
  }
  const order = new Uint32Array(iIn); // copy: transferable, exactly m long
  self.postMessage({type: "sorted", id: msg.id, order}, [order.buffer]);
};
