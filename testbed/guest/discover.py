#!/usr/bin/python3
"""Makes every adapter discover every other one through bluetoothd (D-Bus), so each
knows the others as devices: connecting by UUID through bluetoothd needs a known device.

Usage: discover.py TIMEOUT_SECONDS [ADDRESS...]
With addresses (the two-host mode: the peers are other guests), every local adapter
discovers those instead of the other local adapters.
Exits 0 when every adapter lists every address it looks for, 1 on timeout.
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


REMOTE = set(sys.argv[2:])


def missing():
    adapters, devices = snapshot()
    return {
        path: (REMOTE or set(adapters.values())) - {own} - devices.get(path, set())
        for path, own in adapters.items()
    }


deadline = time.monotonic() + float(sys.argv[1])
# One adapter at a time: btvirt 5.66 crashed (general protection fault) once while three
# controllers ran inquiries at the same moment (before the test bed started btvirt with
# its epoll guard, testbed/epoll1, which removes the likely cause).
for path in sorted(missing()):
    if not missing().get(path):
        continue
    adapter = dbus.Interface(bus.get_object("org.bluez", path), "org.bluez.Adapter1")
    adapter.SetDiscoveryFilter({"Transport": dbus.String("bredr")})
    adapter.StartDiscovery()
    while missing().get(path):
        if time.monotonic() > deadline:
            print(f"discover.py: {path} still misses {missing()[path]}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.2)
    try:
        adapter.StopDiscovery()
    except dbus.DBusException:
        pass
if any(missing().values()):
    print(f"discover.py: still missing {missing()}", file=sys.stderr)
    sys.exit(1)
print(f"discover.py: every adapter knows the others ({time.monotonic() - deadline + float(sys.argv[1]):.1f} s)")
