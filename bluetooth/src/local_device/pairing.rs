//! [`Pairing`] and the helper-thread side of pairing: bluetoothd's `Device1.Pair`, its
//! `Trusted` property and `Adapter1.RemoveDevice`.

use std::time::Duration;

use super::error::PairingError;
use crate::bluez::{self, BluezError};
use crate::BluetoothAddress;

/// A device's pairing with an adapter (Qt's `QBluetoothLocalDevice::Pairing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pairing {
    /// No bond (Qt: `Unpaired`). Asking for it removes the bond and bluetoothd's record
    /// of the device (`Adapter1.RemoveDevice`, as Qt does): to pair again, discover it
    /// again.
    Unpaired,
    /// Bonded (Qt: `Paired`): keys are kept; bluetoothd asks its agent before a profile
    /// of the device may connect to one of ours.
    Paired,
    /// Bonded and trusted (Qt: `AuthorizedPaired`; bluetoothd's `Trusted`): connections
    /// from the device need no authorization.
    AuthorizedPaired,
}

/// How long a pairing may take from the request to bluetoothd's answer, questions to
/// agents on both sides included; then it is cancelled and reported as
/// [`PairingError::TimedOut`].
pub const PAIRING_TIMEOUT: Duration = Duration::from_secs(60);

/// bluetoothd's device for `address` on `adapter`, if it knows one.
async fn known_device(
    adapter: &bluer::Adapter,
    address: BluetoothAddress,
) -> Result<Option<bluer::Device>, BluezError> {
    let wanted = bluer::Address(address.octets());
    if adapter.device_addresses().await?.contains(&wanted) {
        Ok(Some(adapter.device(wanted)?))
    } else {
        Ok(None)
    }
}

/// On the helper thread: the pairing of `address` with the adapter `local`.
pub(super) async fn status(
    session: bluer::Session,
    local: BluetoothAddress,
    address: BluetoothAddress,
) -> Result<Pairing, BluezError> {
    let adapter = bluez::adapter(&session, local).await?;
    let Some(device) = known_device(&adapter, address).await? else {
        return Ok(Pairing::Unpaired);
    };
    Ok(
        match (device.is_paired().await?, device.is_trusted().await?) {
            (false, _) => Pairing::Unpaired,
            (true, false) => Pairing::Paired,
            (true, true) => Pairing::AuthorizedPaired,
        },
    )
}

/// On the helper thread: brings `address` to `wanted` (pairs, sets `Trusted`, or removes
/// the device), bounded by [`PAIRING_TIMEOUT`]. `agent`: whether this program has a
/// pairing agent registered (it names the error of a failed pairing).
pub(super) async fn request(
    session: bluer::Session,
    local: BluetoothAddress,
    address: BluetoothAddress,
    wanted: Pairing,
    agent: bool,
) -> Result<Pairing, PairingError> {
    let work = async {
        let adapter = bluez::adapter(&session, local)
            .await
            .map_err(PairingError::Bluez)?;
        let device = known_device(&adapter, address)
            .await
            .map_err(PairingError::Bluez)?;
        let Some(device) = device else {
            // Nothing to remove is already the state asked for.
            return match wanted {
                Pairing::Unpaired => Ok(Pairing::Unpaired),
                _ => Err(PairingError::UnknownDevice),
            };
        };
        if wanted == Pairing::Unpaired {
            adapter
                .remove_device(device.address())
                .await
                .map_err(|e| PairingError::Bluez(e.into()))?;
            return Ok(Pairing::Unpaired);
        }
        if !device
            .is_paired()
            .await
            .map_err(|e| PairingError::Bluez(e.into()))?
        {
            match device.pair().await {
                Ok(()) => {}
                // Paired meanwhile (by the peer, or by another program): as asked.
                Err(e) if e.kind == bluer::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(PairingError::from_pair(e.into(), agent)),
            }
        }
        device
            .set_trusted(wanted == Pairing::AuthorizedPaired)
            .await
            .map_err(|e| PairingError::Bluez(e.into()))?;
        Ok(wanted)
    };
    // Dropping `work` on the timeout drops bluer's `pair` future, which cancels the
    // pairing in bluetoothd (`CancelPairing`).
    tokio::time::timeout(PAIRING_TIMEOUT, work)
        .await
        .unwrap_or(Err(PairingError::TimedOut(BluezError::Timeout)))
}
