#!/usr/bin/python3
"""stop_cancel.py PID ROUNDS: puts an HCI Inquiry_Cancel and the expiry of btvirt's
100 ms inquiry timer into one epoll_wait batch of btvirt (PID), ROUNDS times: btvirt is
stopped (SIGSTOP), the cancel is queued for it, the timer expires, then it continues.
Exits 1 if hci0 disappears."""
import os
import signal
import socket
import struct
import sys
import time

pid, rounds = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_RAW, socket.BTPROTO_HCI)
s.bind((0,))


def command(ocf, params=b""):
    """An HCI command of the Link Control group (OGF 1), through the raw socket."""
    s.send(struct.pack("<BHB", 1, (1 << 10) | ocf, len(params)) + params)


for i in range(rounds):
    command(0x0001, bytes([0x33, 0x8B, 0x9E, 0x08, 0x00]))  # Inquiry: GIAC, 10.24 s
    time.sleep(0.3)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.02)
    command(0x0002)  # Inquiry_Cancel
    time.sleep(0.25)
    os.kill(pid, signal.SIGCONT)
    time.sleep(0.3)
    if not os.path.exists("/sys/class/bluetooth/hci0"):
        print(f"hci0 gone after {i + 1} rounds")
        sys.exit(1)
print(f"{rounds} rounds, hci0 still there")
