//! The HCI adapter list (`HCIGETDEVLIST`, `HCIGETDEVINFO`).

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
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_BLUETOOTH,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            BTPROTO_HCI,
        )
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<HciDevInfo>(), 92);
        assert_eq!(size_of::<HciDevListReq>(), 4 + 8 * HCI_MAX_DEV);
    }
}
