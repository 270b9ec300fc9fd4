//! Every `unsafe` call of the crate: AF_BLUETOOTH sockets and their addresses.
//!
//! The kernel's address structures (`include/net/bluetooth/rfcomm.h`, `l2cap.h`):
//! `sockaddr_rc { sa_family_t; bdaddr_t; u8 channel }` and
//! `sockaddr_l2 { sa_family_t; __le16 psm; bdaddr_t; __le16 cid; u8 bdaddr_type }`, with
//! `bdaddr_t` stored least significant byte first.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{BluetoothAddress, Protocol};

const BTPROTO_L2CAP: libc::c_int = 0;
const BTPROTO_RFCOMM: libc::c_int = 3;
/// `BDADDR_BREDR`: the address type of a classic (BR/EDR) device.
const BDADDR_BREDR: u8 = 0;

#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrRc {
    family: libc::sa_family_t,
    bdaddr: [u8; 6],
    channel: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrL2 {
    family: libc::sa_family_t,
    psm: u16,
    bdaddr: [u8; 6],
    cid: u16,
    bdaddr_type: u8,
}

/// Room for either address structure.
#[repr(C)]
union SockaddrBt {
    rc: SockaddrRc,
    l2: SockaddrL2,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn encode(
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> (SockaddrBt, libc::socklen_t) {
    let family = libc::AF_BLUETOOTH as libc::sa_family_t;
    match protocol {
        Protocol::Rfcomm => (
            SockaddrBt {
                rc: SockaddrRc {
                    family,
                    bdaddr: address.to_kernel(),
                    // Callers check the range; the kernel takes a byte.
                    channel: port as u8,
                },
            },
            size_of::<SockaddrRc>() as libc::socklen_t,
        ),
        Protocol::L2cap => (
            SockaddrBt {
                l2: SockaddrL2 {
                    family,
                    psm: port.to_le(),
                    bdaddr: address.to_kernel(),
                    cid: 0,
                    bdaddr_type: BDADDR_BREDR,
                },
            },
            size_of::<SockaddrL2>() as libc::socklen_t,
        ),
    }
}

fn decode(protocol: Protocol, raw: &SockaddrBt) -> (BluetoothAddress, u16) {
    match protocol {
        // SAFETY: the kernel filled the structure of the socket's own protocol (or the
        // union is all zeroes, which is a valid value of both members).
        Protocol::Rfcomm => unsafe {
            (
                BluetoothAddress::from_kernel(raw.rc.bdaddr),
                u16::from(raw.rc.channel),
            )
        },
        // SAFETY: as above.
        Protocol::L2cap => unsafe {
            (
                BluetoothAddress::from_kernel(raw.l2.bdaddr),
                u16::from_le(raw.l2.psm),
            )
        },
    }
}

fn zeroed() -> SockaddrBt {
    // SAFETY: both members are plain integers and byte arrays, for which all-zero is valid.
    unsafe { MaybeUninit::<SockaddrBt>::zeroed().assume_init() }
}

/// `socket(AF_BLUETOOTH, SOCK_STREAM | SOCK_SEQPACKET, BTPROTO_*)`, close-on-exec.
///
/// # Errors
/// `EAFNOSUPPORT` without Bluetooth in the kernel; other OS errors.
pub fn socket(protocol: Protocol, nonblocking: bool) -> io::Result<OwnedFd> {
    let (ty, proto) = match protocol {
        Protocol::Rfcomm => (libc::SOCK_STREAM, BTPROTO_RFCOMM),
        Protocol::L2cap => (libc::SOCK_SEQPACKET, BTPROTO_L2CAP),
    };
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::socket(libc::AF_BLUETOOTH, ty | flags, proto) })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind()` to a local adapter address and channel/PSM (0: let the kernel choose).
///
/// # Errors
/// `EADDRINUSE`, `EADDRNOTAVAIL` (no such adapter) and other OS errors.
pub fn bind(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> io::Result<()> {
    let (sa, len) = encode(protocol, address, port);
    // SAFETY: `sa` is a valid, initialised address structure of `len` bytes that lives
    // across the call; `fd` is a valid descriptor.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

/// `connect()`; on a non-blocking socket `EINPROGRESS` is returned as an error.
///
/// # Errors
/// The OS error.
pub fn connect(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> io::Result<()> {
    let (sa, len) = encode(protocol, address, port);
    // SAFETY: as in `bind`.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

fn name(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    f: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> io::Result<(BluetoothAddress, u16)> {
    let mut sa = zeroed();
    let mut len = size_of::<SockaddrBt>() as libc::socklen_t;
    // SAFETY: `f` is getsockname or getpeername; `sa` has room for `len` bytes.
    cvt(unsafe { f(fd.as_raw_fd(), (&raw mut sa).cast(), &mut len) })?;
    Ok(decode(protocol, &sa))
}

/// `getsockname()`: the local adapter address and channel/PSM.
///
/// # Errors
/// The OS error.
pub fn local_name(fd: BorrowedFd<'_>, protocol: Protocol) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getsockname)
}

/// `getpeername()`: the peer's address and channel/PSM.
///
/// # Errors
/// `ENOTCONN` until connected; other OS errors.
pub fn peer_name(fd: BorrowedFd<'_>, protocol: Protocol) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getpeername)
}

const SOL_BLUETOOTH: libc::c_int = 274;
const BT_SECURITY: libc::c_int = 4;
const SOL_L2CAP: libc::c_int = 6;
const L2CAP_OPTIONS: libc::c_int = 0x01;

/// `struct bt_security` (`include/net/bluetooth/bluetooth.h`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BtSecurity {
    level: u8,
    key_size: u8,
}

/// `struct l2cap_options` (`include/net/bluetooth/l2cap.h`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct L2capOptions {
    pub(crate) omtu: u16,
    pub(crate) imtu: u16,
    pub(crate) flush_to: u16,
    pub(crate) mode: u8,
    pub(crate) fcs: u8,
    pub(crate) max_tx: u8,
    pub(crate) txwin_size: u16,
}

fn getsockopt<T: Copy + Default>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a plain `repr(C)` structure with room for `len` bytes; the
    // kernel writes at most that many and updates `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    })?;
    // A shorter answer left part of `value` at its default: refuse it rather than
    // return a value the kernel did not give.
    if len as usize != size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "getsockopt({level}, {name}) gave {len} bytes, expected {}",
                size_of::<T>()
            ),
        ));
    }
    Ok(value)
}

fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to an initialised `repr(C)` value of the given size that
    // lives across the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `BT_SECURITY` level: 0 SDP, 1 low, 2 medium, 3 high, 4 FIPS.
pub(crate) fn security_level(fd: BorrowedFd<'_>) -> io::Result<u8> {
    getsockopt::<BtSecurity>(fd, SOL_BLUETOOTH, BT_SECURITY).map(|s| s.level)
}

/// Sets the socket's `BT_SECURITY` level (`BT_SECURITY_LOW` 1, `MEDIUM` 2, `HIGH` 3,
/// `FIPS` 4); a connect then asks the link for it.
///
/// # Errors
/// The OS error (`EINVAL` for a level the kernel does not know).
pub fn set_security_level(fd: BorrowedFd<'_>, level: u8) -> io::Result<()> {
    setsockopt(
        fd,
        SOL_BLUETOOTH,
        BT_SECURITY,
        &BtSecurity { level, key_size: 0 },
    )
}

/// `L2CAP_OPTIONS` (basic-mode L2CAP reports its MTUs here; `BT_SNDMTU`/`BT_RCVMTU`
/// give EINVAL on BR/EDR basic mode).
pub(crate) fn l2cap_options(fd: BorrowedFd<'_>) -> io::Result<L2capOptions> {
    getsockopt(fd, SOL_L2CAP, L2CAP_OPTIONS)
}

/// Sets `L2CAP_OPTIONS` (before connect or listen).
pub(crate) fn set_l2cap_options(fd: BorrowedFd<'_>, options: &L2capOptions) -> io::Result<()> {
    setsockopt(fd, SOL_L2CAP, L2CAP_OPTIONS, options)
}

/// Sets the incoming MTU (unless 0: the kernel's default) and the channel mode (a raw
/// `L2CAP_MODE_*`) of an L2CAP socket before connect or listen; changes nothing when
/// both are already as asked.
pub(crate) fn apply_l2cap_settings(fd: BorrowedFd<'_>, imtu: u16, mode: u8) -> io::Result<()> {
    let options = l2cap_options(fd)?;
    let wanted = L2capOptions {
        imtu: if imtu > 0 { imtu } else { options.imtu },
        mode,
        ..options
    };
    if wanted == options {
        return Ok(());
    }
    set_l2cap_options(fd, &wanted)
}

/// Whether the kernel has handed everything written on `fd` to the controller: for
/// Bluetooth sockets `TIOCOUTQ` answers the free send space (`sk_sndbuf` minus the
/// memory still held by unsent data), so everything is out when it equals `SO_SNDBUF`.
///
/// # Errors
/// The OS error.
pub fn send_queue_empty(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut free: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one int into `free`, which outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &raw mut free) })?;
    let sndbuf: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?;
    Ok(free >= sndbuf)
}

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

/// `BDADDR_LE_PUBLIC` and `BDADDR_LE_RANDOM`: the address types of an LE device.
pub(crate) const BDADDR_LE_PUBLIC: u8 = 1;
pub(crate) const BDADDR_LE_RANDOM: u8 = 2;
/// `BT_SNDMTU` and `BT_RCVMTU` (`SOL_BLUETOOTH`): an LE credit-based channel's MTUs,
/// which `L2CAP_OPTIONS` does not report for LE.
const BT_SNDMTU: libc::c_int = 12;
const BT_RCVMTU: libc::c_int = 13;

fn l2_address(address: BluetoothAddress, psm: u16, address_type: u8) -> SockaddrL2 {
    SockaddrL2 {
        family: libc::AF_BLUETOOTH as libc::sa_family_t,
        psm: psm.to_le(),
        bdaddr: address.to_kernel(),
        cid: 0,
        bdaddr_type: address_type,
    }
}

/// `bind()` of an L2CAP socket with an address type (LE public for an LE channel).
///
/// # Errors
/// The OS error.
pub(crate) fn bind_l2cap(
    fd: BorrowedFd<'_>,
    address: BluetoothAddress,
    psm: u16,
    address_type: u8,
) -> io::Result<()> {
    let sa = l2_address(address, psm, address_type);
    let len = size_of::<SockaddrL2>() as libc::socklen_t;
    // SAFETY: `sa` is an initialised `sockaddr_l2` of `len` bytes that lives across the
    // call; `fd` is a valid descriptor.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

/// `connect()` of an L2CAP socket to a PSM of a device of `address_type`; on a
/// non-blocking socket `EINPROGRESS` is returned as an error.
///
/// # Errors
/// The OS error.
pub(crate) fn connect_l2cap(
    fd: BorrowedFd<'_>,
    address: BluetoothAddress,
    psm: u16,
    address_type: u8,
) -> io::Result<()> {
    let sa = l2_address(address, psm, address_type);
    let len = size_of::<SockaddrL2>() as libc::socklen_t;
    // SAFETY: as in `bind_l2cap`.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

/// An LE channel's `(outgoing, incoming)` MTUs.
///
/// # Errors
/// The OS error (`ENOTCONN` before the channel is up).
pub(crate) fn le_mtus(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let snd: u16 = getsockopt(fd, SOL_BLUETOOTH, BT_SNDMTU)?;
    let rcv: u16 = getsockopt(fd, SOL_BLUETOOTH, BT_RCVMTU)?;
    Ok((snd, rcv))
}

/// Sets the incoming MTU of an LE channel before it connects.
///
/// # Errors
/// The OS error (`EINVAL` below 23).
pub(crate) fn set_le_incoming_mtu(fd: BorrowedFd<'_>, mtu: u16) -> io::Result<()> {
    setsockopt(fd, SOL_BLUETOOTH, BT_RCVMTU, &mtu)
}
/// The LE PSM asked for by [`le_link_up`]: SDP's, which is never served over LE, so the
/// peer's kernel refuses the channel once the link is up.
const LE_PROBE_PSM: u16 = 0x0001;

/// Brings up an LE link from the adapter at `local` to `peer` and leaves it to whoever
/// holds a channel on it; blocks for at most `timeout`.
///
/// It asks for an LE credit-based channel on a PSM nobody serves over LE. When the link
/// comes up the kernel gives every listening fixed channel a channel on it before our
/// request leaves, so bluetoothd's ATT socket gets one and bluetoothd attaches its GATT
/// client to the link (as for a link the peer made). Our request is then refused
/// (`ECONNREFUSED`), which says the link was made. A socket of our own on the ATT channel
/// would not do: a client's fixed channel keeps the listener's off the link.
///
/// # Errors
/// `ECONNREFUSED` is returned as `Ok`; any other OS error (`EHOSTDOWN`, `ETIMEDOUT`,
/// `ECONNABORTED`: no link) as is.
pub(crate) fn le_link_up(
    local: BluetoothAddress,
    peer: BluetoothAddress,
    random: bool,
    timeout: std::time::Duration,
) -> io::Result<()> {
    let fd = socket(Protocol::L2cap, false)?;
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv)?;
    bind_l2cap(fd.as_fd(), local, 0, BDADDR_LE_PUBLIC)?;
    let peer_type = if random {
        BDADDR_LE_RANDOM
    } else {
        BDADDR_LE_PUBLIC
    };
    match connect_l2cap(fd.as_fd(), peer, LE_PROBE_PSM, peer_type) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The descriptor of bluer's notify reader (bluetoothd's `AcquireNotify`), owned.
///
/// # Errors
/// bluer could not hand it over.
pub(crate) fn notify_fd(reader: bluer::gatt::CharacteristicReader) -> io::Result<OwnedFd> {
    let fd = reader.into_raw_fd()?;
    // SAFETY: `into_raw_fd` gave up its ownership of the open descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<SockaddrRc>(), 10);
        assert_eq!(size_of::<SockaddrL2>(), 14);
        assert_eq!(size_of::<BtSecurity>(), 2);
        assert_eq!(size_of::<L2capOptions>(), 12);
        assert_eq!(size_of::<HciDevInfo>(), 92);
        assert_eq!(size_of::<HciDevListReq>(), 4 + 8 * HCI_MAX_DEV);
    }

    #[test]
    fn encode_decode_round_trip() {
        let a: BluetoothAddress = "00:AA:01:00:00:23".parse().unwrap();
        for (p, port) in [(Protocol::Rfcomm, 7), (Protocol::L2cap, 0x1001)] {
            let (sa, _) = encode(p, a, port);
            assert_eq!(decode(p, &sa), (a, port));
        }
    }
}
