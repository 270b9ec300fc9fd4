#!/usr/bin/python3
"""A Qt 6 LE central (PyQt6, Debian's python3-pyqt6.qtbluetooth) for interop tests on the
test bed: Qt's own QLowEnergyController and QLowEnergyService, as a Qt program uses them.

  qt_le_central.py LOCAL PEER SERVICE READ NOTIFY COUNT
      On the adapter LOCAL, first finds PEER with QBluetoothDeviceDiscoveryAgent's
      LE method (prints "found PEER"), as Qt's heartrate-game does; then
      createCentral(the found device info), connectToDevice,
      discoverServices, createServiceObject(SERVICE), discoverDetails; reads READ and
      prints "read HEX"; turns NOTIFY's notifications on through its 0x2902 descriptor
      (prints "subscribed") and prints "notify HEX" for each value; after COUNT of them
      disconnects and exits 0 once disconnected.

Qt's connect goes through bluetoothd's Device1.Connect, which picks the bearer of a
dual-mode device itself (BlueZ 5.66 select_conn_bearer): the bonded one if only one is,
else the one seen last, BR/EDR on a tie. A dual-mode advertiser's flags do not say "no
BR/EDR", so each of its advertisements counts as BR/EDR seen too: the link is made over
BR/EDR and no LE service is found. Give PEER's adapter no BR/EDR (btmgmt bredr off), or
LOCAL's when PEER is bonded over BR/EDR.

Exit 1 on a Qt error (printed on stderr), 3 after 60 s without finishing.
"""
import sys

from PyQt6.QtBluetooth import (QBluetoothAddress, QBluetoothDeviceDiscoveryAgent,
                               QBluetoothUuid, QLowEnergyController, QLowEnergyService)
from PyQt6.QtCore import QByteArray, QCoreApplication, QTimer, QUuid

app = QCoreApplication(sys.argv)
local, peer, service_uuid, read_uuid, notify_uuid, count = sys.argv[1:7]
count = int(count)
keep = []


def out(line):
    print(line, flush=True)


def fail(why, code=1):
    print(f"qt_le_central: {why}", file=sys.stderr, flush=True)
    QCoreApplication.exit(code)


def uuid(text):
    return QBluetoothUuid(QUuid("{" + text + "}"))


seen = [0]
controller = None


def on_service_state(state):
    if state != QLowEnergyService.ServiceState.RemoteServiceDiscovered:
        return
    service = keep[0]
    read = service.characteristic(uuid(read_uuid))
    notify = service.characteristic(uuid(notify_uuid))
    if not read.isValid() or not notify.isValid():
        return fail("a characteristic is missing")
    service.readCharacteristic(read)


def on_read(characteristic, value):
    out("read " + bytes(value).hex())
    service = keep[0]
    notify = service.characteristic(uuid(notify_uuid))
    cccd = notify.descriptor(
        QBluetoothUuid(QBluetoothUuid.DescriptorType.ClientCharacteristicConfiguration))
    if not cccd.isValid():
        return fail("no 0x2902 descriptor")
    service.writeDescriptor(cccd, QByteArray.fromHex(b"0100"))


def on_descriptor_written(descriptor, value):
    if bytes(value) == b"\x01\x00":
        out("subscribed")


def on_changed(characteristic, value):
    out("notify " + bytes(value).hex())
    seen[0] += 1
    if seen[0] == count:
        controller.disconnectFromDevice()


def on_discovered():
    service = controller.createServiceObject(uuid(service_uuid))
    if service is None:
        return fail("no service " + service_uuid)
    keep.append(service)
    service.stateChanged.connect(on_service_state)
    service.characteristicRead.connect(on_read)
    service.descriptorWritten.connect(on_descriptor_written)
    service.characteristicChanged.connect(on_changed)
    service.errorOccurred.connect(lambda e: fail(f"service error {e}"))
    service.discoverDetails()


def connect(info):
    global controller
    controller = QLowEnergyController.createCentral(info, QBluetoothAddress(local))
    controller.setRemoteAddressType(QLowEnergyController.RemoteAddressType.PublicAddress)
    controller.connected.connect(lambda: (out("connected"), controller.discoverServices()))
    controller.discoveryFinished.connect(on_discovered)
    controller.errorOccurred.connect(
        lambda e: fail(f"controller error {e}: {controller.errorString()}"))
    controller.disconnected.connect(
        lambda: (out("disconnected"), QCoreApplication.exit(0 if seen[0] == count else 1)))
    controller.connectToDevice()


def on_found(info):
    if info.address() != QBluetoothAddress(peer) or controller is not None:
        return
    out("found " + peer)
    agent.stop()
    connect(info)


agent = QBluetoothDeviceDiscoveryAgent(QBluetoothAddress(local))
agent.setLowEnergyDiscoveryTimeout(30000)
agent.deviceDiscovered.connect(on_found)
agent.errorOccurred.connect(lambda e: fail(f"discovery error {e}: {agent.errorString()}"))
agent.finished.connect(lambda: controller is None and fail("discovery ended without " + peer))
QTimer.singleShot(60000, lambda: fail("no end after 60 s", 3))
agent.start(QBluetoothDeviceDiscoveryAgent.DiscoveryMethod.LowEnergyMethod)
sys.exit(app.exec())
