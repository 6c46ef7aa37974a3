// Which TCP addresses processes listen on, from /proc: tests prove with it that nothing
// the tooling starts listens beyond loopback.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface Listener {
  pid: number;
  address: string;
  port: number;
}

/** /proc/net/tcp* writes an address as 32-bit words in host (little-endian) order. */
export function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  const mapped = groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff';
  if (mapped) return bytes.slice(12).join('.');
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** The listening sockets of the kernel: inode → address and port. */
function listeningSockets(): Map<string, { address: string; port: number }> {
  const sockets = new Map<string, { address: string; port: number }>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (state !== '0A' || !local || !inode) continue; // 0A: LISTEN
      const [address = '', port = '0'] = local.split(':');
      sockets.set(inode, { address: decodeAddress(address), port: parseInt(port, 16) });
    }
  }
  return sockets;
}

/** Every TCP listener of the given processes. */
export function listenersOf(pids: number[]): Listener[] {
  const sockets = listeningSockets();
  return pids.flatMap((pid) => {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return [];
    }
    return fds.flatMap((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        const socket = inode === undefined ? undefined : sockets.get(inode);
        return socket ? [{ pid, ...socket }] : [];
      } catch {
        return [];
      }
    });
  });
}
