#!/usr/bin/python3
"""A bus of Feetech STS3215 servos behind a real pseudo-terminal, byte for byte.

The driver under test opens the pty's slave side as it would open /dev/ttyACM0. Each servo has
its control table (EPROM below address 40, written only while Lock is 0; SRAM from 40), answers
PING, READ, WRITE, SYNC_READ (0x82) and SYNC_WRITE (0x83) with status packets, and moves its
position toward Goal_Position as a first-order lag when its torque is on. A pty has no baud rate
of its own, so the model imposes the wire time itself: each reply is written when its last byte
would have left a 1 Mbps line (10 bits a byte), after the request's own wire time and the
servo's Return_Delay_Time (2 us a step), one servo after the other.

Protocol facts: lerobot src/lerobot/motors/feetech/tables.py and Feetech's SDK
(scservo_sdk/protocol_packet_handler.py); see src/hal/feetech/protocol.ts.

Usage: feetech-bus-model.py --ids 1,2,3,4,5,6 [--link PATH] [--baud 1000000]
Prints one JSON line {"port": "/dev/pts/N"} when ready and runs until SIGTERM or SIGINT. When
stdin is a pipe it reads JSON commands there, one a line, and answers each with one JSON line:
  {"cmd": "silent", "id": 3, "on": true}        the servo stops answering (false: answers again)
  {"cmd": "corrupt", "id": 3, "count": 2}       its next 2 replies have a wrong checksum
  {"cmd": "corrupt", "id": 3, "count": 9, "every": 2}   every 2nd of its next 9 replies
  {"cmd": "garbage", "count": 5}                5 noise bytes go out before the next reply
  {"cmd": "error", "id": 3, "bits": 32}         its status error byte (0 clears it)
  {"cmd": "reply_as", "id": 3, "as": 9}         it answers with id 9 (null: its own again)
  {"cmd": "set", "id": 3, "address": 63, "value": 70}   poke a register (1 byte)
  {"cmd": "state", "id": 3}                     its registers of interest
  {"cmd": "stats"}                              packets seen and replies sent
"""
import argparse
import json
import math
import os
import select
import signal
import sys
import time
import tty

PING, READ, WRITE, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x82, 0x83
BROADCAST = 0xFE
EPROM_END = 40
LOCK = 55
TAU_S = 0.03            # first-order lag of the position loop
MAX_STEPS_PER_S = 3400  # about 0.22 s/60 deg at 7.4 V (STS3215 datasheet no-load speed)


def checksum(body):
    return (~sum(body)) & 0xFF


def sign_magnitude(value, bit):
    magnitude = min(abs(int(value)), (1 << bit) - 1)
    return ((1 << bit) | magnitude) if value < 0 else magnitude


def from_sign_magnitude(raw, bit):
    magnitude = raw & ((1 << bit) - 1)
    return -magnitude if (raw >> bit) & 1 else magnitude


class Servo:
    def __init__(self, sid, start):
        self.id = sid
        r = bytearray(256)
        r[3], r[4] = 777 & 0xFF, 777 >> 8        # Model_Number
        r[5] = sid                               # ID
        r[6] = 0                                 # Baud_Rate 1 Mbps
        r[7] = 250                               # Return_Delay_Time (500 us, the factory value)
        r[8] = 1                                 # Response_Status_Level
        r[9], r[10] = 0, 0                       # Min_Position_Limit
        r[11], r[12] = 4095 & 0xFF, 4095 >> 8    # Max_Position_Limit
        r[13], r[14], r[15] = 70, 80, 40         # temperature and voltage limits
        r[16], r[17] = 1000 & 0xFF, 1000 >> 8    # Max_Torque_Limit
        r[55] = 1                                # Lock
        r[62] = 74                               # Present_Voltage 7.4 V
        r[63] = 30                               # Present_Temperature
        self.r = r
        self.actual = float(start)               # encoder position before the homing offset
        self.velocity = 0.0
        self.silent = False
        self.corrupt = 0
        self.reply_as = None                     # answer with another id (a mis-numbered servo)
        self.every = 1
        self.sent = 0
        self.error = 0
        self.present(start)

    def u16(self, a):
        return self.r[a] | (self.r[a + 1] << 8)

    def homing(self):
        return from_sign_magnitude(self.u16(31), 11)

    def present(self, _=None):
        # Present_Position = Actual_Position - Homing_Offset (lerobot _get_half_turn_homings)
        pos = int(round(self.actual)) - self.homing()
        pos = max(0, min(4095, pos))
        self.r[56], self.r[57] = pos & 0xFF, pos >> 8

    def write(self, address, data):
        for k, b in enumerate(data):
            a = address + k
            if a < EPROM_END and self.r[LOCK] != 0:
                continue                          # EPROM is locked: the write does not take
            if a in (3, 4) or 56 <= a <= 70:
                continue                          # read-only
            self.r[a] = b

    def step(self, dt):
        r = self.r
        torque = r[40] == 1
        goal = from_sign_magnitude(self.u16(42), 15)
        lo, hi = self.u16(9), self.u16(11)
        goal = max(lo, min(hi, goal)) + self.homing()
        before = self.actual
        if torque:
            move = (goal - self.actual) * (1 - math.exp(-dt / TAU_S))
            cap = MAX_STEPS_PER_S * dt
            self.actual += max(-cap, min(cap, move))
        self.velocity = (self.actual - before) / dt if dt > 0 else 0.0
        self.present()
        v = sign_magnitude(round(self.velocity), 15)
        r[58], r[59] = v & 0xFF, v >> 8
        load = sign_magnitude(max(-1000, min(1000, (goal - self.actual) * 2)) if torque else 0, 10)
        r[60], r[61] = load & 0xFF, load >> 8
        r[66] = 1 if abs(self.velocity) > 1 else 0

    def status(self, params):
        body = [self.reply_as if self.reply_as is not None else self.id, len(params) + 2, self.error] + list(params)
        chk = checksum(body)
        if self.corrupt > 0:
            self.corrupt -= 1
            self.sent += 1
            if self.sent % self.every == 0:
                chk ^= 0x5A
        return bytes([0xFF, 0xFF] + body + [chk])


class Bus:
    def __init__(self, ids, baud, master):
        self.servos = {sid: Servo(sid, 2048 + 40 * k) for k, sid in enumerate(ids)}
        self.byte_s = 10.0 / baud
        self.master = master
        self.rx = bytearray()
        self.free_at = 0.0                        # when the line is idle again
        self.queue = []                           # (due time, bytes), in order
        self.garbage = 0
        self.packets = 0
        self.replies = 0

    def schedule(self, now, servo, params):
        if servo.silent:
            return
        reply = servo.status(params)
        if self.garbage > 0:
            reply = bytes((0x55 + 37 * k) & 0xFF for k in range(self.garbage)) + reply
            self.garbage = 0
        start = max(now, self.free_at) + servo.r[7] * 2e-6
        due = start + len(reply) * self.byte_s
        self.free_at = due
        self.queue.append((due, reply))
        self.replies += 1

    def feed(self, data, now):
        self.rx.extend(data)
        while True:
            i = self.rx.find(b'\xff\xff')
            if i < 0:
                del self.rx[:-1]
                return
            del self.rx[:i]
            if len(self.rx) < 4:
                return
            length = self.rx[3]
            if len(self.rx) < length + 4:
                return
            packet = bytes(self.rx[:length + 4])
            del self.rx[:length + 4]
            if checksum(packet[2:-1]) != packet[-1]:
                continue                          # a servo ignores a packet with a bad checksum
            self.packets += 1
            # The request's own wire time: the servos act once its last byte is in.
            arrived = max(now, self.free_at) + len(packet) * self.byte_s
            self.free_at = arrived
            self.execute(packet[2], packet[4], packet[5:-1], arrived)

    def execute(self, sid, instruction, params, now):
        if instruction == SYNC_WRITE:
            address, n = params[0], params[1]
            for k in range(2, len(params), n + 1):
                servo = self.servos.get(params[k])
                if servo:
                    servo.write(address, params[k + 1:k + 1 + n])
            return
        if instruction == SYNC_READ:
            address, n = params[0], params[1]
            for target in params[2:]:
                servo = self.servos.get(target)
                if servo:
                    self.schedule(now, servo, servo.r[address:address + n])
            return
        servo = self.servos.get(sid)
        if servo is None:
            return
        if instruction == PING:
            self.schedule(now, servo, b'')
        elif instruction == READ:
            self.schedule(now, servo, servo.r[params[0]:params[0] + params[1]])
        elif instruction == WRITE:
            servo.write(params[0], params[1:])
            if servo.r[8] != 0:
                self.schedule(now, servo, b'')

    def flush(self, now):
        while self.queue and self.queue[0][0] <= now:
            _, reply = self.queue.pop(0)
            os.write(self.master, reply)

    def command(self, c):
        kind = c.get('cmd')
        servo = self.servos.get(c.get('id'))
        if kind == 'stats':
            return {'packets': self.packets, 'replies': self.replies}
        if kind == 'garbage':
            self.garbage = int(c['count'])
            return {'ok': True}
        if servo is None:
            return {'error': f"no servo {c.get('id')}"}
        if kind == 'silent':
            servo.silent = bool(c.get('on', True))
        elif kind == 'corrupt':
            servo.corrupt = int(c.get('count', 1))
            servo.every = int(c.get('every', 1))
            servo.sent = 0
        elif kind == 'error':
            servo.error = int(c['bits'])
        elif kind == 'reply_as':
            servo.reply_as = c.get('as')
        elif kind == 'set':
            servo.r[int(c['address'])] = int(c['value']) & 0xFF
        elif kind == 'state':
            r = servo.r
            return {'id': servo.id, 'torque': r[40], 'lock': r[55], 'goal': from_sign_magnitude(servo.u16(42), 15),
                    'present': servo.u16(56), 'homing_offset': servo.homing(), 'min': servo.u16(9), 'max': servo.u16(11),
                    'return_delay': r[7], 'mode': r[33], 'phase': r[18]}
        else:
            return {'error': f'unknown command {kind}'}
        return {'ok': True}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ids', default='1,2,3,4,5,6')
    ap.add_argument('--baud', type=int, default=1_000_000)
    ap.add_argument('--link', help='also make PATH a symlink to the pty')
    args = ap.parse_args()
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    if args.link:
        if os.path.lexists(args.link):
            os.unlink(args.link)
        os.symlink(port, args.link)
    bus = Bus([int(x) for x in args.ids.split(',') if x], args.baud, master)
    print(json.dumps({'port': port, 'link': args.link}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stdin = sys.stdin.fileno()
    # Commands come on a pipe (tests); a terminal's stdin is left alone (a background job reading
    # it would be stopped), and at the end of the pipe the bus keeps running until SIGTERM/SIGINT.
    inputs = [master] if os.isatty(stdin) else [master, stdin]
    line = b''
    last = time.perf_counter()
    try:
        while True:
            now = time.perf_counter()
            timeout = 0.001
            if bus.queue:
                timeout = max(0.0, min(timeout, bus.queue[0][0] - now))
            ready, _, _ = select.select(inputs, [], [], timeout)
            now = time.perf_counter()
            if bus.queue and bus.queue[0][0] - now < 0.0002:
                while time.perf_counter() < bus.queue[0][0]:
                    pass                          # spin the last fraction of a millisecond
                now = time.perf_counter()
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b''
                if data:
                    bus.feed(data, now)
            if stdin in ready:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    inputs.remove(stdin)
                    continue
                line += chunk
                while b'\n' in line:
                    one, line = line.split(b'\n', 1)
                    if one.strip():
                        print(json.dumps(bus.command(json.loads(one))), flush=True)
            bus.flush(now)
            dt = now - last
            if dt >= 0.001:
                for servo in bus.servos.values():
                    servo.step(dt)
                last = now
    except KeyboardInterrupt:
        pass
    finally:
        if args.link and os.path.islink(args.link):
            os.unlink(args.link)


if __name__ == '__main__':
    main()
