//! The L2CAP side of [`BluetoothSocket`]: its channel mode and MTUs, and LE
//! credit-based channels.

use std::os::fd::AsFd;

use sigloop_core::transport::SocketTransport;
use sigloop_core::{SocketError, SocketState};

use super::{os, BluetoothSocket};
use crate::l2cap_mode::L2capMode;
use crate::low_energy::RemoteAddressType;
use crate::{sys, BluetoothAddress, Protocol};

impl BluetoothSocket {
    /// Asks for an incoming L2CAP MTU (`L2CAP_OPTIONS` `imtu`) for the next connect; 0
    /// keeps the kernel's default (672). No effect on RFCOMM.
    pub fn set_l2cap_mtu(&self, imtu: u16) {
        self.settings.l2cap_imtu.set(imtu);
    }

    /// Asks for an L2CAP channel mode for the next connect (default
    /// [`L2capMode::Basic`], as Qt). [`L2capMode::Ertm`] makes bulk transfers lossless
    /// when the peer reads slowly; the server must ask for it too
    /// ([`BluetoothServer::set_l2cap_mode`](crate::BluetoothServer::set_l2cap_mode)),
    /// or the kernel settles on basic mode (see [`l2cap_mode`](Self::l2cap_mode)). No
    /// effect on RFCOMM, which has flow control of its own.
    pub fn set_l2cap_mode(&self, mode: L2capMode) {
        self.settings.l2cap_mode.set(mode);
    }

    /// The mode of the L2CAP connection as negotiated, from `L2CAP_OPTIONS`; before a
    /// connection, the mode asked for. `None` for RFCOMM.
    pub fn l2cap_mode(&self) -> Option<L2capMode> {
        if self.settings.protocol != Protocol::L2cap {
            return None;
        }
        let connected = self.state() == SocketState::Connected;
        match self.with_fd(sys::l2cap_options) {
            Some(Ok(o)) if connected => L2capMode::from_raw(o.mode),
            // L2CAP_OPTIONS is refused for an LE channel only.
            Some(Err(_)) if connected && self.with_fd(sys::le_mtus).is_some_and(|r| r.is_ok()) => {
                Some(L2capMode::LeCreditBased)
            }
            _ => Some(self.settings.l2cap_mode.get()),
        }
    }

    /// The L2CAP MTUs of the connection, `(outgoing, incoming)`, from `L2CAP_OPTIONS`;
    /// `None` for RFCOMM or without a connection. A packet written must fit in the
    /// outgoing MTU.
    pub fn l2cap_mtu(&self) -> Option<(u16, u16)> {
        if self.settings.protocol != Protocol::L2cap {
            return None;
        }
        self.with_fd(l2cap_mtus).and_then(Result::ok)
    }

    /// Starts connecting an LE credit-based channel to `psm` on the LE device `address`
    /// of `address_type` (no Qt counterpart: Qt has no public API for LE channels). An
    /// L2CAP socket only. The PSM is 0x0001–0x00ff: SIG-assigned up to 0x007f, dynamic
    /// (the ones servers get) from 0x0080. Security flags and
    /// [`set_l2cap_mtu`](Self::set_l2cap_mtu) (at least 23) apply as on classic L2CAP;
    /// the channel mode is always [`L2capMode::LeCreditBased`], which is flow-controlled:
    /// a slow reader stalls the writer, nothing is dropped. Completion is reported by
    /// `connected` or `error_occurred`, as for [`connect_to_service`](Self::connect_to_service).
    ///
    /// # Errors
    /// At once, with no signal and no state change: `UnsupportedProtocol` on an RFCOMM
    /// socket; `Operation` if the socket is not unconnected; `HostNotFound` for the null
    /// address; `UnsupportedSocketOperation` for a PSM out of range or an MTU below 23;
    /// `SocketAddressNotAvailable` if the local adapter chosen does not exist.
    pub fn connect_to_le_channel(
        &self,
        address: BluetoothAddress,
        address_type: RemoteAddressType,
        psm: u16,
    ) -> Result<(), SocketError> {
        if self.settings.protocol != Protocol::L2cap {
            return Err(SocketError::UnsupportedProtocol);
        }
        self.check_can_connect(address)?;
        if !valid_le_psm(psm) {
            return Err(SocketError::UnsupportedSocketOperation);
        }
        let imtu = self.settings.l2cap_imtu.get();
        if imtu != 0 && imtu < 23 {
            return Err(SocketError::UnsupportedSocketOperation);
        }
        let fd = sys::socket(Protocol::L2cap, true).map_err(os)?;
        let adapter = self.settings.local_adapter.get();
        if !adapter.is_null() {
            sys::bind_l2cap(fd.as_fd(), adapter, 0, sys::BDADDR_LE_PUBLIC).map_err(os)?;
        }
        sys::set_security_level(fd.as_fd(), self.settings.security.get().to_level()).map_err(os)?;
        if imtu != 0 {
            sys::set_le_incoming_mtu(fd.as_fd(), imtu).map_err(os)?;
        }
        let kind = match address_type {
            RemoteAddressType::Public => sys::BDADDR_LE_PUBLIC,
            RemoteAddressType::Random => sys::BDADDR_LE_RANDOM,
        };
        let result = sys::connect_l2cap(fd.as_fd(), address, psm, kind);
        self.socket.begin_connect(fd, result)
    }
}

/// `(outgoing, incoming)` MTUs: `L2CAP_OPTIONS` on a classic channel, `BT_SNDMTU` and
/// `BT_RCVMTU` on an LE one (which refuses the former).
pub(super) fn l2cap_mtus(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<(u16, u16)> {
    match sys::l2cap_options(fd) {
        Ok(o) => Ok((o.omtu, o.imtu)),
        Err(_) => sys::le_mtus(fd),
    }
}

/// An LE PSM: 0x0001–0x00ff (Bluetooth Core Vol 3 Part A 4.22).
pub(crate) fn valid_le_psm(psm: u16) -> bool {
    (1..=0xff).contains(&psm)
}
