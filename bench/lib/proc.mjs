// /proc readers shared by the load generator and the runner (Linux only; every reader returns zeros
// elsewhere rather than throwing, so a run on another OS still produces throughput and latency).
import fs from 'node:fs'

/** PID plus its direct children (nginx master + worker); node servers are a single process. */
export function procTree (pid) {
  const out = [pid]
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const ch = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim()
      if (ch) for (const c of ch.split(/\s+/)) out.push(+c)
    }
  } catch { /* process gone */ }
  return out
}

/** VmRSS / RssAnon summed over the process tree, in KB. */
export function readRss (pid) {
  const r = { vmRssKB: 0, rssAnonKB: 0, pids: [] }
  if (!pid) return r
  for (const p of procTree(pid)) {
    try {
      const s = fs.readFileSync(`/proc/${p}/status`, 'utf8')
      const g = (k) => +((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [0, 0])[1])
      r.vmRssKB += g('VmRSS'); r.rssAnonKB += g('RssAnon'); r.pids.push(p)
    } catch { /* ignore */ }
  }
  return r
}

/** utime+stime of the process tree in seconds (CLK_TCK is 100 on Linux). */
export function readCpuSec (pid) {
  if (!pid) return 0
  let ticks = 0
  for (const p of procTree(pid)) {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      ticks += +f[11] + +f[12]
    } catch { /* ignore */ }
  }
  return ticks / 100
}

/**
 * Per-core jiffies from /proc/stat. Loopback TCP work (softirq) is charged to the sending core and is not
 * in any process's utime/stime, so the per-core figure is the honest one for "how busy was the server core".
 */
export function coreTimes () {
  const out = {}
  try {
    for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+) (.*)$/.exec(line); if (!m) continue
      const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].trim().split(/\s+/).map(Number)
      out[m[1]] = { busy: user + nice + system + irq + softirq + steal, softirq, total: user + nice + system + idle + iowait + irq + softirq + steal }
    }
  } catch { /* not Linux */ }
  return out
}

export function coreUtil (a, b) {
  const r = {}
  for (const k of Object.keys(b)) {
    if (!a[k]) continue
    const dt = b[k].total - a[k].total || 1
    r['cpu' + k] = { busy: +((b[k].busy - a[k].busy) / dt).toFixed(2), softirq: +((b[k].softirq - a[k].softirq) / dt).toFixed(2) }
  }
  return r
}

/** Pages of kernel TCP buffer memory in use, machine-wide. */
export function tcpMemPages () {
  try {
    const m = /TCP:.* mem (\d+)/.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'))
    return m ? +m[1] : 0
  } catch { return 0 }
}
