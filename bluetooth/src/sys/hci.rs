//! The HCI adapter list (`HCIGETDEVLIST`, `HCIGETDEVINFO`) and an adapter's links
//! (`HCIGETCONNLIST`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::cvt;
use crate::BluetoothAddress;

const BTPROTO_HCI: libc::c_int = 1;

/// `_IOR('H', 210, int)` and `_IOR('H', 211, int)`.
const HCIGETDEVLIST: libc::c_ulong = 0x8004_48D2;
const HCIGETDEVINFO: libc::c_ulong = 0x8004_48D3;
const HCI_MAX_DEV: usize = 16;

/// Bit of `hci_dev_info.flags`: the device is up (powered).
const HCI_UP: u32 = 1 << 0;
/// `_IOR('H', 212, int)`.
const HCIGETCONNLIST: libc::c_ulong = 0x8004_48D4;
/// Room for this many links per `HCIGETCONNLIST`.
const MAX_CONNS: usize = 32;
/// `hci_conn_info.type` of an LE link (`LE_LINK`).
const LE_LINK: u8 = 0x80;
/// `hci_conn_info.state`: `BT_CONNECTED`, and `BT_CONFIG` (up, still being set up).
const BT_CONNECTED: u16 = 1;
const BT_CONFIG: u16 = 7;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct HciDevReq {
    dev_id: u16,
    dev_opt: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct HciDevListReq {
    dev_num: u16,
    dev_req: [HciDevReq; HCI_MAX_DEV],
}

/// `struct hci_dev_info` (`include/net/bluetooth/hci_sock.h`); only the fields read
/// here are named, the rest is kept as bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct HciDevInfo {
    dev_id: u16,
    name: [u8; 8],
    bdaddr: [u8; 6],
    flags: u32,
    rest: [u8; 72],
}

/// `struct hci_conn_info` (`include/net/bluetooth/hci_sock.h`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct HciConnInfo {
    handle: u16,
    bdaddr: [u8; 6],
    link_type: u8,
    out: u8,
    state: u16,
    link_mode: u32,
}

/// `struct hci_conn_list_req` with room for [`MAX_CONNS`] entries.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct HciConnListReq {
    dev_id: u16,
    conn_num: u16,
    conn_info: [HciConnInfo; MAX_CONNS],
}

/// One local adapter: its index (`hci{index}`), address, and whether it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adapter {
    /// `hci{index}`.
    pub index: u16,
    /// The adapter's address.
    pub address: BluetoothAddress,
    /// Whether it is powered (`HCI_UP`).
    pub up: bool,
}

/// The local adapters, from the HCI device list ioctls.
///
/// # Errors
/// `EAFNOSUPPORT` without Bluetooth in the kernel; other OS errors.
pub fn adapters() -> io::Result<Vec<Adapter>> {
    adapters_on(&hci_socket()?)
}

/// [`adapters`] through an HCI control socket the caller already has.
fn adapters_on(fd: &OwnedFd) -> io::Result<Vec<Adapter>> {
    let mut list = HciDevListReq {
        dev_num: HCI_MAX_DEV as u16,
        ..HciDevListReq::default()
    };
    // SAFETY: HCIGETDEVLIST reads `dev_num` and writes at most that many entries into
    // `list`, which has room for them and outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), HCIGETDEVLIST, &raw mut list) })?;
    let mut out = Vec::new();
    for req in &list.dev_req[..usize::from(list.dev_num).min(HCI_MAX_DEV)] {
        let mut info = HciDevInfo {
            dev_id: req.dev_id,
            name: [0; 8],
            bdaddr: [0; 6],
            flags: 0,
            rest: [0; 72],
        };
        // SAFETY: HCIGETDEVINFO reads `dev_id` and fills one `hci_dev_info`, for which
        // `info` has room (same size and layout) and which outlives the call.
        let r = cvt(unsafe { libc::ioctl(fd.as_raw_fd(), HCIGETDEVINFO, &raw mut info) });
        if r.is_err() {
            continue; // the device went away meanwhile
        }
        out.push(Adapter {
            index: info.dev_id,
            address: BluetoothAddress::from_kernel(info.bdaddr),
            up: info.flags & HCI_UP != 0,
        });
    }
    Ok(out)
}

/// An HCI control socket, for the device and connection list ioctls.
fn hci_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_BLUETOOTH,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            BTPROTO_HCI,
        )
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the adapter `local` has an LE link to `peer` that is up (connected, or
/// connected and still being set up), as `hcitool con` lists them.
///
/// # Errors
/// No adapter with that address (`ENODEV`); the OS error of the ioctls.
pub(crate) fn le_link_up_to(local: BluetoothAddress, peer: BluetoothAddress) -> io::Result<bool> {
    let fd = hci_socket()?;
    let index = adapters_on(&fd)?
        .into_iter()
        .find(|a| a.address == local)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?
        .index;
    let mut list = HciConnListReq {
        dev_id: index,
        conn_num: MAX_CONNS as u16,
        ..HciConnListReq::default()
    };
    // SAFETY: HCIGETCONNLIST reads `dev_id` and `conn_num` and writes the header and at
    // most `conn_num` entries into `list`, which has room for them and outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), HCIGETCONNLIST, &raw mut list) })?;
    let peer = peer.to_kernel();
    Ok(list.conn_info[..usize::from(list.conn_num).min(MAX_CONNS)]
        .iter()
        .any(|c| {
            c.link_type == LE_LINK
                && c.bdaddr == peer
                && matches!(c.state, BT_CONNECTED | BT_CONFIG)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<HciDevInfo>(), 92);
        assert_eq!(size_of::<HciDevListReq>(), 4 + 8 * HCI_MAX_DEV);
        assert_eq!(size_of::<HciConnInfo>(), 16);
        assert_eq!(size_of::<HciConnListReq>(), 4 + 16 * MAX_CONNS);
    }
}
