// A 1-D range of workgroups launched as 2-D grids under the per-dimension limit (`grids` in
// src/lib/gpu/limits.ts): each dispatch's uniforms carry its first workgroup (base) and its
// width in workgroups (nx).
fn grid_workgroup(base : u32, nx : u32, wid : vec3<u32>) -> u32 {
  return base + wid.y * nx + wid.x;
}

// The invocation's index in the range, for kernels declared with @workgroup_size(64).
fn grid_item(base : u32, nx : u32, wid : vec3<u32>, lid : vec3<u32>) -> u32 {
  return grid_workgroup(base, nx, wid) * 64u + lid.x;
}
