#!/usr/bin/python3
"""Makes every adapter discover every other one through bluetoothd (D-Bus), so each
knows the others as devices: connecting by UUID through bluetoothd needs a known device.

Usage: discover.py TIMEOUT_SECONDS
Exits 0 when every adapter lists every other adapter's address, 1 on timeout.
"""
import sys
import time

import dbus

bus = dbus.SystemBus()
manager = dbus.Interface(bus.get_object("org.bluez", "/"), "org.freedesktop.DBus.ObjectManager")


def snapshot():
    adapters, devices = {}, {}
    for path, ifaces in manager.GetManagedObjects().items():
        if "org.bluez.Adapter1" in ifaces:
            adapters[str(path)] = str(ifaces["org.bluez.Adapter1"]["Address"])
        if "org.bluez.Device1" in ifaces:
            adapter = str(ifaces["org.bluez.Device1"]["Adapter"])
            devices.setdefault(adapter, set()).add(str(ifaces["org.bluez.Device1"]["Address"]))
    return adapters, devices


def missing():
    adapters, devices = snapshot()
    return {
        path: set(adapters.values()) - {own} - devices.get(path, set())
        for path, own in adapters.items()
    }


deadline = time.monotonic() + float(sys.argv[1])
started = set()
while True:
    todo = {path: addrs for path, addrs in missing().items() if addrs}
    if not todo:
        break
    if time.monotonic() > deadline:
        print(f"discover.py: still missing {todo}", file=sys.stderr)
        sys.exit(1)
    for path in todo:
        if path not in started:
            adapter = dbus.Interface(bus.get_object("org.bluez", path), "org.bluez.Adapter1")
            adapter.SetDiscoveryFilter({"Transport": dbus.String("bredr")})
            adapter.StartDiscovery()
            started.add(path)
    time.sleep(0.2)

for path in started:
    adapter = dbus.Interface(bus.get_object("org.bluez", path), "org.bluez.Adapter1")
    try:
        adapter.StopDiscovery()
    except dbus.DBusException:
        pass
print("discover.py: every adapter knows the others")
