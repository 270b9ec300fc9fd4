#!/usr/bin/python3
"""A Qt 6 LE peripheral (PyQt6, Debian's python3-pyqt6.qtbluetooth) for interop checks
on the test bed: QLowEnergyController::createPeripheral, addService, startAdvertising,
as Qt's heartrate-server does them.

  qt_le_peripheral.py LOCAL SECONDS
      On the adapter LOCAL: Heart Rate (0x180D) with Measurement (0x2A37, notify, with
      its 0x2902 descriptor) and Body Sensor Location (0x2A38, read: 01); advertises as
      "qt HR". Prints "advertising" once started, "connected" / "disconnected" as Qt
      reports them, and writes a new measurement (00 then a count) every 100 ms. Prints
      "error N TEXT" for each controller error. Exits 0 after SECONDS.
"""
import sys

from PyQt6.QtBluetooth import (QBluetoothAddress, QBluetoothUuid, QLowEnergyAdvertisingData,
                               QLowEnergyAdvertisingParameters, QLowEnergyCharacteristic,
                               QLowEnergyCharacteristicData, QLowEnergyController,
                               QLowEnergyDescriptorData, QLowEnergyServiceData)
from PyQt6.QtCore import QByteArray, QCoreApplication, QTimer

app = QCoreApplication(sys.argv)
local, seconds = sys.argv[1], int(sys.argv[2])


def out(line):
    print(line, flush=True)


HR = QBluetoothUuid(QBluetoothUuid.ServiceClassUuid.HeartRate)
MEASUREMENT = QBluetoothUuid(QBluetoothUuid.CharacteristicType.HeartRateMeasurement)
LOCATION = QBluetoothUuid(QBluetoothUuid.CharacteristicType.BodySensorLocation)
CCCD = QBluetoothUuid(QBluetoothUuid.DescriptorType.ClientCharacteristicConfiguration)

measurement = QLowEnergyCharacteristicData()
measurement.setUuid(MEASUREMENT)
measurement.setValue(QByteArray(b"\x00\x3c"))
measurement.setProperties(QLowEnergyCharacteristic.PropertyType.Notify)
measurement.addDescriptor(QLowEnergyDescriptorData(CCCD, QByteArray(b"\x00\x00")))
location = QLowEnergyCharacteristicData()
location.setUuid(LOCATION)
location.setValue(QByteArray(b"\x01"))
location.setProperties(QLowEnergyCharacteristic.PropertyType.Read)
data = QLowEnergyServiceData()
data.setType(QLowEnergyServiceData.ServiceType.ServiceTypePrimary)
data.setUuid(HR)
data.addCharacteristic(measurement)
data.addCharacteristic(location)

controller = QLowEnergyController.createPeripheral(QBluetoothAddress(local))
controller.errorOccurred.connect(lambda e: out(f"error {e} {controller.errorString()}"))
controller.connected.connect(lambda: out("connected"))
controller.disconnected.connect(lambda: out("disconnected"))
service = controller.addService(data)
if service is None:
    out("error addService returned null")
adv = QLowEnergyAdvertisingData()
adv.setDiscoverability(QLowEnergyAdvertisingData.Discoverability.DiscoverabilityGeneral)
adv.setLocalName("qt HR")
adv.setServices([HR])
controller.startAdvertising(QLowEnergyAdvertisingParameters(), adv, adv)
out(f"advertising state {controller.state()}")
count = [0]


def beat():
    count[0] = (count[0] + 1) % 256
    if service is not None:
        c = service.characteristic(MEASUREMENT)
        service.writeCharacteristic(c, QByteArray(bytes([0, count[0]])))


timer = QTimer()
timer.timeout.connect(beat)
timer.start(100)
QTimer.singleShot(seconds * 1000, lambda: QCoreApplication.exit(0))
sys.exit(app.exec())
