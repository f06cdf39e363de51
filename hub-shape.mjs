// Drives src/hub.ts once it exists. Filled in against the hub's real API.
export async function driveHub (_hub, { bench: _bench }) {
  console.error('hub micro-benchmark: hub API not wired yet')
}
