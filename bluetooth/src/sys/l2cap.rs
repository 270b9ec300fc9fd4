//! L2CAP's own socket options, LE addresses, and bringing up an LE link.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::addr::{SockaddrL2, BDADDR_LE_PUBLIC, BDADDR_LE_RANDOM};
use super::{cvt, getsockopt, setsockopt, socket, SOL_BLUETOOTH};
use crate::{BluetoothAddress, Protocol};

const SOL_L2CAP: libc::c_int = 6;
const L2CAP_OPTIONS: libc::c_int = 0x01;

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
/// The kernel also answers `ECONNREFUSED` when its channel timer (the socket's send
/// timeout, `timeout` here) fires before any link came up: that refusal is told apart by
/// asking the adapter whether it has an LE link to `peer` (`HCIGETCONNLIST`), and is then
/// `ETIMEDOUT`.
///
/// # Errors
/// `ECONNREFUSED` with the link up is returned as `Ok`; without it, `ETIMEDOUT`; any
/// other OS error (`EHOSTDOWN`, `ETIMEDOUT`, `ECONNABORTED`: no link) as is.
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
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            match super::hci::le_link_up_to(local, peer) {
                Ok(true) => Ok(()),
                Ok(false) => Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
                // Not known either way: the refusal is taken at its word, as before.
                Err(check) => {
                    log::warn!("could not list the LE links of {local}: {check}");
                    Ok(())
                }
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<L2capOptions>(), 12);
    }
}
