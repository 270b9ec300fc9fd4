#!/usr/bin/python3
"""holdlink.py LOCAL PEER [--low]: holds an encrypted ACL link from the adapter LOCAL to PEER (an
L2CAP connection to PEER's SDP server, PSM 1, at security medium) until stdin ends or
the process is killed. Prints "held" once the link is up.

The bed's cure for the kernel's "security block": a connect that starts encryption on a
link while the peer still reads the new key's size is refused; on a link already
encrypted by this holder nothing is refused (see the README's Bluetooth facts).
With --low the channel asks for security low: the link is held without pairing or
encryption (a pairing test's link, see scripts/pairing-on-bed).
Debian's /usr/bin/python3 has AF_BLUETOOTH (pyenv's builds do not).
"""
import socket
import struct
import sys

SOL_BLUETOOTH, BT_SECURITY, BT_SECURITY_LOW, BT_SECURITY_MEDIUM = 274, 4, 1, 2

local, peer = sys.argv[1:3]
level = BT_SECURITY_LOW if sys.argv[3:4] == ["--low"] else BT_SECURITY_MEDIUM
s = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_SEQPACKET, socket.BTPROTO_L2CAP)
s.bind((local, 0))
s.setsockopt(SOL_BLUETOOTH, BT_SECURITY, struct.pack("BB", level, 0))
s.settimeout(30)
s.connect((peer, 1))
print("held", flush=True)
sys.stdin.read()
