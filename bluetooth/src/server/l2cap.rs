//! The L2CAP side of [`BluetoothServer`]: the channel mode asked of clients, and LE
//! credit-based channels.

use std::os::fd::AsFd;

use super::{server_error, BluetoothServer};
use crate::{sys, BluetoothAddress, L2capMode, Protocol, ServerError};

impl BluetoothServer {
    /// Listens for LE credit-based channels on the adapter `address` (the null address:
    /// every adapter) and the LE `psm` (0x0002–0x00ff; 0 takes the first free dynamic
    /// one from 0x0080, see [`server_port`](Self::server_port)). No Qt counterpart: Qt
    /// has no public API for LE channels. An L2CAP server only; the peer must be able to
    /// reach this adapter over LE (an LE connection needs this side to advertise, or to be
    /// connected already). Accepted sockets report [`L2capMode::LeCreditBased`].
    ///
    /// # Errors
    /// As for [`listen`](Self::listen) (nothing changed, [`error`](Self::error) set), and
    /// `UnsupportedProtocol` also on an RFCOMM server.
    pub fn listen_le(&self, address: BluetoothAddress, psm: u16) -> Result<(), ServerError> {
        self.try_listen_le(address, psm)
            .inspect_err(|&e| self.state.error.set(Some(e)))
    }

    fn try_listen_le(&self, address: BluetoothAddress, psm: u16) -> Result<(), ServerError> {
        if self.server.is_listening() {
            return Err(ServerError::ServiceAlreadyRegistered);
        }
        // PSM 1 (SDP's, never served over LE) is what LowEnergyController asks for to
        // make a link, counting on its refusal.
        if self.protocol != Protocol::L2cap
            || psm == 1
            || (psm != 0 && !crate::socket::valid_le_psm(psm))
        {
            return Err(ServerError::UnsupportedProtocol);
        }
        let io = |e: std::io::Error| server_error(&e);
        let fd = sys::socket(self.protocol, true).map_err(io)?;
        self.check_adapter(address)?;
        sys::set_security_level(fd.as_fd(), self.state.security.get().to_level()).map_err(io)?;
        sys::bind_l2cap(fd.as_fd(), address, psm, sys::BDADDR_LE_PUBLIC).map_err(io)?;
        self.start_listening(fd)
    }

    /// The L2CAP channel mode asked of incoming connections, applied at the next
    /// `listen`; accepted sockets inherit it (default [`L2capMode::Basic`], as Qt). A
    /// client must ask for the same mode. No effect on RFCOMM.
    pub fn set_l2cap_mode(&self, mode: L2capMode) {
        self.state.l2cap_mode.set(mode);
    }

    /// The L2CAP mode asked of clients (see [`set_l2cap_mode`](Self::set_l2cap_mode));
    /// `None` for an RFCOMM server.
    pub fn l2cap_mode(&self) -> Option<L2capMode> {
        (self.protocol == Protocol::L2cap).then(|| self.state.l2cap_mode.get())
    }
}
