import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import unix from 'unix-dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifier, startWatchdog } from '../../src/runtime/systemd.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A notify socket of the test's own, as systemd would hold it. */
function listen(address: string): string[] {
  const messages: string[] = [];
  const socket = unix.createSocket('unix_dgram', (message) => messages.push(message.toString()));
  socket.bind(address.startsWith('@') ? `\0${address.slice(1)}` : address);
  closers.push(() => socket.close());
  return messages;
}

async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('sd_notify', () => {
  it('sends READY with STATUS, STATUS, and STOPPING to a path socket', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'embody-notify-')), 'notify');
    const messages = listen(path);
    const notifier = createNotifier({ NOTIFY_SOCKET: path });
    closers.push(() => notifier.close());
    expect(notifier.enabled).toBe(true);
    notifier.ready('mode IDLE\n200 Hz');
    notifier.status('mode RUNNING');
    notifier.stopping();
    await until(() => messages.length === 3);
    expect(messages).toEqual(['READY=1\nSTATUS=mode IDLE 200 Hz', 'STATUS=mode RUNNING', 'STOPPING=1']);
    expect(notifier.lastError).toBeUndefined();
  });

  it('reaches an abstract @socket', async () => {
    const name = `@embody-test-${process.pid}-${Date.now()}`;
    const messages = listen(name);
    const notifier = createNotifier({ NOTIFY_SOCKET: name });
    closers.push(() => notifier.close());
    notifier.ready();
    await until(() => messages.length === 1);
    expect(messages).toEqual(['READY=1']);
  });

  it('pets the watchdog at a quarter of WATCHDOG_USEC, and only while the loop is healthy', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'embody-notify-')), 'notify');
    const messages = listen(path);
    const notifier = createNotifier({ NOTIFY_SOCKET: path, WATCHDOG_USEC: '40000' });
    closers.push(() => notifier.close());
    expect(notifier.watchdogIntervalMs).toBe(10);
    let healthy = true;
    const stop = startWatchdog(notifier, () => healthy);
    closers.push(stop);
    await until(() => messages.filter((m) => m === 'WATCHDOG=1').length >= 3);
    healthy = false;
    await new Promise((resolve) => setTimeout(resolve, 30));
    const count = messages.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(messages.length).toBe(count);
    healthy = true;
    await until(() => messages.length > count);
    expect(new Set(messages)).toEqual(new Set(['WATCHDOG=1']));
  });

  it('ignores a WATCHDOG_USEC meant for another process', () => {
    const notifier = createNotifier({ NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' });
    expect(notifier.watchdogIntervalMs).toBeUndefined();
  });

  it('does nothing and never throws without NOTIFY_SOCKET or when nobody listens', () => {
    const off = createNotifier({});
    expect(off.enabled).toBe(false);
    expect(() => {
      off.ready('x');
      off.watchdog();
      off.stopping();
      off.close();
    }).not.toThrow();
    const dead = createNotifier({ NOTIFY_SOCKET: '/nonexistent/socket' });
    expect(() => dead.ready()).not.toThrow();
    dead.close();
  });
});

describe('LoopHealth (watchdog = liveness)', () => {
  it('pets a loop that stutters (12 % of deadlines missed), withholds from one that hangs or misses most', async () => {
    const { LoopHealth } = await import('../../src/runtime/systemd.js');
    const health = new LoopHealth(0);
    expect(health.check(100, 0)).toBe(true);
    expect(health.check(188, 12)).toBe(true); // stutter: 88 met, 12 missed
    expect(health.check(188, 12)).toBe(false); // hung: no tick
    expect(health.check(208, 92)).toBe(false); // starved: 20 met, 80 missed
  });
});
