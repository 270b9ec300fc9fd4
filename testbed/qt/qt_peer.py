#!/usr/bin/python3
"""A small Qt 6 Bluetooth peer (PyQt6, Debian's python3-pyqt6.qtbluetooth) for interop
tests on the two-host test bed. It uses Qt's own QBluetoothServer and QBluetoothSocket,
so what it proves is what a Qt program would meet.

  qt_peer.py server UUID
      QBluetoothServer(RFCOMM).listen(uuid, name): a free channel and an SDP record
      published through bluetoothd. Prints "listening channel N", then answers every
      read with b"qt-echo:" + data, and exits 0 when its first client disconnects.
  qt_peer.py client ADDR UUID MESSAGE
      Prepares bluetoothd the way a first contact between two machines would find it,
      then QBluetoothSocket(RFCOMM).connectToService(ADDR, UUID) (on BlueZ >= 5.46
      Qt 6 connects by UUID only, through bluetoothd's Device1.ConnectProfile). Sends
      MESSAGE and prints "got REPLY" once a reply ending in MESSAGE is in, then
      disconnects and exits 0. The preparation, each step a measured BlueZ behaviour:
        1. hold a link to ADDR (L2CAP to its SDP server, PSM 1, security medium): on a
           link it made, this side's bluetoothd browses the peer's records (SDP is
           exempt from the kernel's "security block" while the peer reads the new
           link's key size; the browse takes longer than that read);
        2. wait (at most 30 s) for Device1.ServicesResolved: a ConnectProfile made
           while that browse runs fails at once.
      bluetoothd browses a peer once and keeps that list across later links, so a
      record published after an earlier link stays unknown to it: run this against
      a peer this bluetoothd has not met before (a fresh test bed boot).

Exit 1 on a Qt error (printed on stderr), 3 after 60 s without finishing.
"""
import socket
import struct
import sys
import time

import dbus
from PyQt6.QtBluetooth import (QBluetoothAddress, QBluetoothServer, QBluetoothServiceInfo,
                               QBluetoothSocket, QBluetoothUuid)
from PyQt6.QtCore import QCoreApplication, QTimer

RFCOMM = QBluetoothServiceInfo.Protocol.RfcommProtocol
app = QCoreApplication(sys.argv)
keep = []


def out(line):
    print(line, flush=True)


def fail(why, code=1):
    print(f"qt_peer: {why}", file=sys.stderr, flush=True)
    QCoreApplication.exit(code)


SOL_BLUETOOTH, BT_SECURITY, BT_SECURITY_MEDIUM = 274, 4, 2


def device(manager, addr):
    """ADDR's Device1 properties, or None while bluetoothd does not know it."""
    suffix = "/dev_" + addr.replace(":", "_")
    for path, ifaces in manager.GetManagedObjects().items():
        if str(path).endswith(suffix) and "org.bluez.Device1" in ifaces:
            return ifaces["org.bluez.Device1"]
    return None


def prepare(addr, timeout=30.0):
    """Steps 1-2 of the client's preparation; returns the held socket or None."""
    bus = dbus.SystemBus()
    manager = dbus.Interface(bus.get_object("org.bluez", "/"),
                             "org.freedesktop.DBus.ObjectManager")
    deadline = time.monotonic() + timeout
    held = socket.socket(socket.AF_BLUETOOTH, socket.SOCK_SEQPACKET, socket.BTPROTO_L2CAP)
    held.setsockopt(SOL_BLUETOOTH, BT_SECURITY, struct.pack("BB", BT_SECURITY_MEDIUM, 0))
    held.settimeout(timeout)
    held.connect((addr, 1))
    while not (device(manager, addr) or {}).get("ServicesResolved"):
        if time.monotonic() > deadline:
            fail(f"bluetoothd never resolved {addr}'s services")
            return None
        time.sleep(0.1)
    return held


def server(uuid):
    srv = QBluetoothServer(RFCOMM)
    keep.append(srv)
    info = srv.listen(QBluetoothUuid(uuid), "sigloop interop (Qt server)")
    if not info.isValid():
        fail(f"listen(uuid) failed: {srv.error()}")
        return
    out(f"listening channel {srv.serverPort()}")

    def on_new():
        sock = srv.nextPendingConnection()
        keep.append(sock)
        out(f"client {sock.peerAddress().toString()} connected")
        sock.readyRead.connect(lambda: sock.write(b"qt-echo:" + bytes(sock.readAll())))
        sock.disconnected.connect(lambda: (out("client disconnected"), QCoreApplication.exit(0)))

    srv.newConnection.connect(on_new)


def client(addr, uuid, message):
    held = prepare(addr)
    if held is None:
        return
    keep.append(held)
    sock = QBluetoothSocket(RFCOMM)
    keep.append(sock)
    got = bytearray()

    def on_connected():
        out(f"connected to {sock.peerAddress().toString()} channel {sock.peerPort()}")
        sock.write(message.encode())

    def on_ready():
        got.extend(bytes(sock.readAll()))
        if got.endswith(message.encode()):
            out(f"got {got.decode(errors='replace')}")
            sock.disconnectFromService()
            QCoreApplication.exit(0)

    sock.connected.connect(on_connected)
    sock.readyRead.connect(on_ready)
    sock.errorOccurred.connect(lambda e: fail(f"socket error {e}: {sock.errorString()}"))
    sock.connectToService(QBluetoothAddress(addr), QBluetoothUuid(uuid))


def main():
    args = sys.argv[1:]
    if args[:1] == ["server"] and len(args) == 2:
        QTimer.singleShot(0, lambda: server(args[1]))
    elif args[:1] == ["client"] and len(args) == 4:
        QTimer.singleShot(0, lambda: client(args[1], args[2], args[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    QTimer.singleShot(60000, lambda: fail("timed out after 60 s", 3))
    sys.exit(app.exec())


main()
