//! The helper thread's half of the LE classes: bluer calls on bluetoothd's GATT client,
//! their results sent into the loop as [`Event`]s tagged with the link they belong to.

use std::cell::Cell;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use sigloop_core::RemoteEmitter;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::writers::{write_value, Writers};
use super::{ControllerError, PropertyTypes, RemoteAddressType};
use crate::bluez::{self, next, BluezError};
use crate::{sys, BluetoothAddress};

/// How long the kernel may take to make the LE link (its own LE connection timeout is
/// 20 s too).
pub(crate) const LINK_TIMEOUT: Duration = Duration::from_secs(20);
/// How long bluetoothd may take to report the link and finish its service discovery.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one value read of a full discovery may take before it is left empty.
const DETAIL_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a disconnect waits for bluetoothd to report the link gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a remote attribute lives: BlueZ's object ids, which are the attribute handles
/// of the service, characteristic (declaration) and descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Path {
    pub service: u16,
    pub characteristic: u16,
    pub descriptor: u16,
}

/// A primary or secondary service as bluetoothd lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    pub id: u16,
    pub uuid: Uuid,
}

/// A descriptor as discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescData {
    pub handle: u16,
    pub uuid: Uuid,
    pub value: Vec<u8>,
}

/// A characteristic as discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CharData {
    pub handle: u16,
    pub uuid: Uuid,
    pub properties: PropertyTypes,
    pub value: Vec<u8>,
    pub descriptors: Vec<DescData>,
}

/// How notifications reach the loop.
#[derive(Debug)]
pub(crate) enum NotifySource {
    /// bluetoothd's `AcquireNotify` socket: each datagram one value.
    Fd(OwnedFd),
    /// `StartNotify`: the values come as [`Event::Notified`] from the helper.
    Stream,
}

/// A value the loop takes out of an event once (an fd is not `Clone`).
pub(crate) struct Once<T>(Cell<Option<T>>);

impl<T> Once<T> {
    pub(crate) fn new(value: T) -> Self {
        Once(Cell::new(Some(value)))
    }

    pub(crate) fn take(&self) -> Option<T> {
        self.0.take()
    }
}

impl<T> std::fmt::Debug for Once<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Once(..)")
    }
}

/// What the helper thread reports; `Cell`s carry what the loop takes out once.
#[derive(Debug)]
pub(crate) enum Event {
    LinkUp {
        adapter: String,
        local: BluetoothAddress,
        mtu: Option<u16>,
    },
    LinkFailed(ControllerError, String),
    LinkDown {
        remote: bool,
    },
    /// The loop gave the attempt up; whatever came up was closed.
    Cancelled,
    Services(Result<Vec<ServiceEntry>, String>),
    Details {
        service: u16,
        result: Result<Vec<CharData>, String>,
    },
    Read {
        path: Path,
        result: Result<Vec<u8>, String>,
    },
    Written {
        path: Path,
        value: Vec<u8>,
        with_response: bool,
        result: Result<(), String>,
    },
    NotifyOn {
        path: Path,
        session: u64,
        result: Once<Result<NotifySource, String>>,
    },
    Notified {
        path: Path,
        session: u64,
        value: Vec<u8>,
    },
    NotifyEnded {
        path: Path,
        session: u64,
    },
    Rssi(Result<i16, String>),
}

pub(crate) type Emitter = RemoteEmitter<(u64, Event)>;

/// What a link task needs to know.
pub(crate) struct LinkRequest {
    pub local: BluetoothAddress,
    pub peer: BluetoothAddress,
    pub address_type: RemoteAddressType,
    pub link: u64,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// On the helper thread: makes the LE link, waits for bluetoothd's GATT client, reports
/// it, then watches it until it drops or `stop` fires (or its sender is dropped), when it
/// disconnects.
pub(crate) async fn link(
    session: Result<bluer::Session, BluezError>,
    req: LinkRequest,
    emitter: Emitter,
    mut stop: oneshot::Receiver<()>,
) {
    let emit = |e: Event| {
        let _ = emitter.emit((req.link, e));
    };
    let fail = |kind: ControllerError, why: String| {
        let _ = emitter.emit((req.link, Event::LinkFailed(kind, why)));
    };
    let adapter = async {
        let session = session?;
        let adapter = bluez::adapter(&session, req.local).await?;
        let address = bluez::from_bluer(adapter.address().await?);
        if !adapter.is_powered().await? {
            return Err(BluezError::NotReady);
        }
        Ok::<_, BluezError>((adapter, address))
    };
    let (adapter, local) = match tokio::time::timeout(bluez::CALL_TIMEOUT, adapter).await {
        Ok(Ok(a)) => a,
        Ok(Err(e @ (BluezError::NoAdapter | BluezError::NotReady))) => {
            return fail(ControllerError::InvalidBluetoothAdapter, e.to_string())
        }
        Ok(Err(e)) => return fail(ControllerError::Unknown, e.to_string()),
        Err(_) => return fail(ControllerError::Unknown, BluezError::Timeout.to_string()),
    };
    let peer = req.peer;
    let random = req.address_type == RemoteAddressType::Random;
    let bpeer = bluer::Address(peer.octets());
    // Why the first link was given up, when another one is being made, and how many were.
    let mut first: Option<Unresolved> = None;
    let mut dropped = 0;
    let device = loop {
        let made =
            tokio::task::spawn_blocking(move || sys::le_link_up(local, peer, random, LINK_TIMEOUT));
        // Not cut short by `stop`: a link that comes up after all is closed below.
        let made = made
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
        if let Err(e) = made {
            if stopped(&mut stop) {
                return emit(Event::Cancelled);
            }
            let (kind, why) = link_error(&e, peer, req.address_type);
            return match &first {
                // A later link's failure alone would hide what happened (a peer that
                // stopped advertising when the first link came up is not found).
                Some(first) => {
                    let hint = agent_hint();
                    fail(
                        ControllerError::Connection,
                        format!("{peer}: {first}; link {} failed: {why}{hint}", dropped + 1),
                    )
                }
                None => fail(kind, why),
            };
        }
        if stopped(&mut stop) {
            close(&adapter, bpeer).await;
            return emit(Event::Cancelled);
        }
        let resolved = tokio::select! {
            r = tokio::time::timeout(RESOLVE_TIMEOUT, resolve(&adapter, bpeer)) => r,
            _ = &mut stop => {
                close(&adapter, bpeer).await;
                return emit(Event::Cancelled);
            }
        };
        match resolved {
            Ok(Ok(d)) => break d,
            // bluetoothd let go of a link it never attached to (see `Unresolved`): again,
            // on a new link, up to [`UNATTACHED_RETRIES`] times (on the bed the race
            // once came twice in a row).
            Ok(Err(e @ Unresolved::DroppedUnattached(_))) if dropped < UNATTACHED_RETRIES => {
                log::warn!("{peer}: {e}; making the link again");
                dropped += 1;
                first.get_or_insert(e);
                continue;
            }
            Ok(Err(e)) => {
                let hint = agent_hint();
                close(&adapter, bpeer).await;
                return fail(ControllerError::Connection, format!("{peer}: {e}{hint}"));
            }
            Err(_) => {
                let hint = agent_hint();
                close(&adapter, bpeer).await;
                return fail(
                    ControllerError::Connection,
                    format!(
                        "bluetoothd did not resolve the services of {peer} within {} s{hint}",
                        RESOLVE_TIMEOUT.as_secs()
                    ),
                );
            }
        }
    };
    let mut events = match device.events().await {
        Ok(e) => Box::pin(e),
        Err(e) => {
            close(&adapter, bpeer).await;
            return fail(ControllerError::Unknown, text(e));
        }
    };
    let mtu = att_mtu(&device).await;
    emit(Event::LinkUp {
        adapter: adapter.name().to_string(),
        local,
        mtu,
    });
    // It may have dropped before the watch began.
    if !device.is_connected().await.unwrap_or(false) {
        return emit(Event::LinkDown { remote: true });
    }
    loop {
        tokio::select! {
            e = next(&mut events) => match e {
                Some(bluer::DeviceEvent::PropertyChanged(bluer::DeviceProperty::Connected(false)))
                | None => return emit(Event::LinkDown { remote: true }),
                Some(_) => {}
            },
            _ = &mut stop => break,
        }
    }
    // Our side closes.
    let _ = device.disconnect().await;
    let gone = async {
        while device.is_connected().await.unwrap_or(false) {
            if next(&mut events).await.is_none() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, gone).await;
    emit(Event::LinkDown { remote: false });
}

/// How soon after coming up a link that bluetoothd never attached to goes down: the
/// kernel's idle timeout for a link without channels (2 s), with a margin.
const UNATTACHED_DROP: Duration = Duration::from_secs(4);

/// How many more links a connect makes after links bluetoothd let go of unattached.
const UNATTACHED_RETRIES: u32 = 3;

/// Why bluetoothd did not resolve a link's services.
#[derive(Debug)]
enum Unresolved {
    /// The link went down this long after bluetoothd saw it connected, within
    /// [`UNATTACHED_DROP`]: the sign of a race in bluetoothd 5.66, which the caller meets
    /// with another link. Attaching its GATT client to the link's new ATT channel,
    /// bluetoothd reads the link's security level (low) and, holding a key for the
    /// peer, asks for medium; when the encryption the peer's security request started
    /// completes between the two, the kernel refuses (`EINVAL`, the level is already
    /// met), bluetoothd drops the channel, and the kernel drops the idle link 2 s later.
    /// Seen on the test bed, where one bluetoothd serves both ends (btmon: encryption on
    /// at .764 s, bluetoothd's "setsockopt(BT_SECURITY): Invalid argument" at .790 s).
    DroppedUnattached(Duration),
    /// The link went down later, or bluetoothd failed to answer.
    Other(String),
}

impl Unresolved {
    /// A link that went down `after` bluetoothd saw it connected, its services not
    /// resolved.
    fn dropped(after: Duration) -> Unresolved {
        if after <= UNATTACHED_DROP {
            Unresolved::DroppedUnattached(after)
        } else {
            Unresolved::Other(
                "the LE link dropped before bluetoothd resolved its services".to_string(),
            )
        }
    }
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::DroppedUnattached(after) => write!(
                f,
                "the LE link dropped {} ms after it came up, before bluetoothd resolved its \
                 services",
                after.as_millis()
            ),
            Unresolved::Other(why) => f.write_str(why),
        }
    }
}

/// Waits until bluetoothd reports `peer` connected with its services resolved.
async fn resolve(
    adapter: &bluer::Adapter,
    peer: bluer::Address,
) -> Result<bluer::Device, Unresolved> {
    let other = |e: bluer::Error| Unresolved::Other(e.to_string());
    let mut connected_at: Option<std::time::Instant> = None;
    loop {
        if adapter
            .device_addresses()
            .await
            .map_err(other)?
            .contains(&peer)
        {
            let device = adapter.device(peer).map_err(other)?;
            let connected = device.is_connected().await.map_err(other)?;
            if connected && device.is_services_resolved().await.map_err(other)? {
                return Ok(device);
            }
            match (connected_at, connected) {
                (None, true) => connected_at = Some(std::time::Instant::now()),
                (Some(at), false) => return Err(Unresolved::dropped(at.elapsed())),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// For a link that came up but whose services bluetoothd never resolved, while this
/// program has no [`PairingAgent`] that can say yes or no: a likely cause and what to
/// do; empty otherwise. Seen on the test bed (two hosts paired over BR/EDR, which gave
/// the kernels LE keys too, then an LE link): the peripheral asked for security, the
/// central's kernel paired again with Just Works, which Linux has user space confirm
/// when it already holds a key for the peer, and bluetoothd, with no agent, refused
/// ("No agent available for request type 2" in its log, then an LE bonding failure
/// with status 0x05); the link was never usable, and the connect ended with the resolve
/// timeout. With an agent of capability `DisplayYesNo` that accepted bluetoothd's
/// `Authorization` question, the same connect worked. bluetoothd's D-Bus API reports
/// none of this, so it is said as a hint, with the log line to check.
///
/// [`PairingAgent`]: crate::PairingAgent
fn agent_hint() -> &'static str {
    if crate::agent::can_confirm() {
        ""
    } else {
        " (this program has no PairingAgent that can say yes or no: if bluetoothd logged \
         \"No agent available for request type 2\" or rejected an authorization, the \
         peer asked for a pairing that needed confirming and nothing confirmed it; \
         register a PairingAgent with IoCapability::DisplayYesNo and accept its \
         Authorization question, or remove the bond, and connect again)"
    }
}

/// The controller error and message for a failed `le_link_up`.
fn link_error(
    e: &io::Error,
    peer: BluetoothAddress,
    address_type: RemoteAddressType,
) -> (ControllerError, String) {
    let kind = match e.raw_os_error() {
        // EINPROGRESS: the socket's send timeout ended the blocking connect first.
        Some(
            libc::EHOSTDOWN
            | libc::ETIMEDOUT
            | libc::EHOSTUNREACH
            | libc::EAGAIN
            | libc::EINPROGRESS,
        ) => {
            return (
                ControllerError::UnknownRemoteDevice,
                format!(
                    "no answer from {peer} within {} s ({e}): is it in range and advertising \
                     as connectable, and is its address type ({address_type:?}) right?",
                    LINK_TIMEOUT.as_secs(),
                ),
            );
        }
        Some(libc::EADDRNOTAVAIL | libc::ENODEV | libc::ENETDOWN) => {
            ControllerError::InvalidBluetoothAdapter
        }
        Some(libc::EACCES | libc::EPERM) => ControllerError::Authorization,
        _ => ControllerError::Connection,
    };
    (kind, format!("LE link to {peer}: {e}"))
}

/// Whether the loop asked the link task to stop (or dropped its sender).
fn stopped(stop: &mut oneshot::Receiver<()>) -> bool {
    !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

/// Closes a link nobody is told about any more.
async fn close(adapter: &bluer::Adapter, peer: bluer::Address) {
    if let Ok(d) = adapter.device(peer) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, d.disconnect()).await;
    }
}

/// The link's ATT MTU as bluetoothd reports it on any characteristic (its `MTU`
/// property, BlueZ 5.62 and later). bluer hands out that value less 5 (its margin for
/// the notify and write sockets); the 5 is added back here.
async fn att_mtu(device: &bluer::Device) -> Option<u16> {
    for service in device.services().await.ok()? {
        if let Some(c) = service.characteristics().await.ok()?.first() {
            return c.mtu().await.ok().map(|m| (m + 5) as u16);
        }
    }
    None
}

/// The device on the named adapter.
fn device(
    session: &bluer::Session,
    adapter: &str,
    peer: BluetoothAddress,
) -> Result<bluer::Device, bluer::Error> {
    session
        .adapter(adapter)?
        .device(bluer::Address(peer.octets()))
}

/// Lists the device's services.
pub(crate) async fn services(
    session: bluer::Session,
    adapter: String,
    peer: BluetoothAddress,
) -> Result<Vec<ServiceEntry>, String> {
    let device = device(&session, &adapter, peer).map_err(text)?;
    let mut out = Vec::new();
    for s in device.services().await.map_err(text)? {
        out.push(ServiceEntry {
            id: s.id(),
            uuid: s.uuid().await.map_err(text)?,
        });
    }
    out.sort_by_key(|s| s.id);
    Ok(out)
}

/// Lists a service's characteristics and descriptors, with their values if `values`.
pub(crate) async fn details(
    session: bluer::Session,
    adapter: String,
    peer: BluetoothAddress,
    service: u16,
    values: bool,
) -> Result<Vec<CharData>, String> {
    let device = device(&session, &adapter, peer).map_err(text)?;
    let service = device.service(service).await.map_err(text)?;
    let mut out = Vec::new();
    for c in service.characteristics().await.map_err(text)? {
        let properties = PropertyTypes::from_bluer(&c.flags().await.map_err(text)?);
        let value = if values && properties.contains(PropertyTypes::READ) {
            read_bounded(c.read()).await
        } else {
            Vec::new()
        };
        let mut descriptors = Vec::new();
        for d in c.descriptors().await.map_err(text)? {
            let value = if values {
                read_bounded(d.read()).await
            } else {
                Vec::new()
            };
            descriptors.push(DescData {
                handle: d.id(),
                uuid: d.uuid().await.map_err(text)?,
                value,
            });
        }
        descriptors.sort_by_key(|d| d.handle);
        out.push(CharData {
            handle: c.id(),
            uuid: c.uuid().await.map_err(text)?,
            properties,
            value,
            descriptors,
        });
    }
    out.sort_by_key(|c| c.handle);
    Ok(out)
}

/// A read of a full discovery: failing or hanging leaves the value empty.
async fn read_bounded(read: impl std::future::Future<Output = bluer::Result<Vec<u8>>>) -> Vec<u8> {
    match tokio::time::timeout(DETAIL_READ_TIMEOUT, read).await {
        Ok(Ok(v)) => v,
        _ => Vec::new(),
    }
}

async fn characteristic(
    session: &bluer::Session,
    adapter: &str,
    peer: BluetoothAddress,
    path: Path,
) -> Result<bluer::gatt::remote::Characteristic, String> {
    device(session, adapter, peer)
        .map_err(text)?
        .service(path.service)
        .await
        .map_err(text)?
        .characteristic(path.characteristic)
        .await
        .map_err(text)
}

/// Reads a characteristic's value, or its descriptor's when `path.descriptor` is set.
/// Waits first until bluetoothd took the service's writes without response (see
/// [`Writers`]).
pub(crate) async fn read(
    session: bluer::Session,
    adapter: String,
    peer: BluetoothAddress,
    path: Path,
    writers: &Writers,
) -> Result<Vec<u8>, String> {
    writers.settle().await?;
    let c = characteristic(&session, &adapter, peer, path).await?;
    if path.descriptor == 0 {
        c.read().await.map_err(text)
    } else {
        let d = c.descriptor(path.descriptor).await.map_err(text)?;
        d.read().await.map_err(text)
    }
}

/// Writes a characteristic's value (with response or as a command), or its
/// descriptor's when `path.descriptor` is set. A command goes on the socket bluetoothd
/// hands out for it (`AcquireWrite`) where it offers one; see [`Writers`] for the order
/// against the other requests.
pub(crate) async fn write(
    session: bluer::Session,
    adapter: String,
    peer: BluetoothAddress,
    path: Path,
    value: Vec<u8>,
    with_response: bool,
    writers: &Writers,
) -> Result<(), String> {
    if !with_response && path.descriptor == 0 {
        if let Some(r) = writers.write_held(path.characteristic, &value).await {
            return r;
        }
        let c = characteristic(&session, &adapter, peer, path).await?;
        return writers.write_command(&c, path.characteristic, &value).await;
    }
    let released = if path.descriptor == 0 {
        writers.release(path.characteristic).await?
    } else {
        writers.settle().await?;
        false
    };
    let c = characteristic(&session, &adapter, peer, path).await?;
    if path.descriptor != 0 {
        let d = c.descriptor(path.descriptor).await.map_err(text)?;
        return d.write(&value).await.map_err(text);
    }
    let req = bluer::gatt::remote::CharacteristicWriteRequest {
        op_type: bluer::gatt::WriteOp::Request,
        ..Default::default()
    };
    write_value(&c, &value, &req, released).await
}

/// Where a notification session goes: the characteristic, and the link and request it
/// belongs to.
pub(crate) struct NotifyTarget {
    pub path: Path,
    pub link: u64,
    pub session: u64,
}

/// Turns notifications on: through `AcquireNotify` where bluetoothd offers it (the
/// socket goes to the loop), else through `StartNotify`, whose values are sent as
/// [`Event::Notified`] until `stop` fires or its sender is dropped.
pub(crate) async fn notify(
    session: Result<bluer::Session, BluezError>,
    adapter: String,
    peer: BluetoothAddress,
    target: NotifyTarget,
    notify_flag: bool,
    emitter: Emitter,
    mut stop: oneshot::Receiver<()>,
) {
    let NotifyTarget {
        path,
        link,
        session: id,
    } = target;
    let report = |r: Result<NotifySource, String>| {
        let _ = emitter.emit((
            link,
            Event::NotifyOn {
                path,
                session: id,
                result: Once::new(r),
            },
        ));
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => return report(Err(e.to_string())),
    };
    let c = match characteristic(&session, &adapter, peer, path).await {
        Ok(c) => c,
        Err(e) => return report(Err(e)),
    };
    if notify_flag {
        let acquired = tokio::time::timeout(bluez::CALL_TIMEOUT, c.notify_io()).await;
        if let Ok(Ok(reader)) = acquired {
            return report(sys::notify_fd(reader).map(NotifySource::Fd).map_err(text));
        }
    }
    let stream = match tokio::time::timeout(bluez::CALL_TIMEOUT, c.notify()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return report(Err(text(e))),
        Err(_) => return report(Err(BluezError::Timeout.to_string())),
    };
    report(Ok(NotifySource::Stream));
    let mut stream = Box::pin(stream);
    loop {
        tokio::select! {
            v = next(&mut stream) => match v {
                Some(value) => {
                    let event = Event::Notified {
                        path,
                        session: id,
                        value,
                    };
                    if emitter.emit((link, event)).is_err() {
                        return;
                    }
                }
                None => {
                    let _ = emitter.emit((link, Event::NotifyEnded { path, session: id }));
                    return;
                }
            },
            _ = &mut stop => return,
        }
    }
}

/// Reads the signal strength bluetoothd last saw from the device.
pub(crate) async fn rssi(
    session: bluer::Session,
    adapter: String,
    peer: BluetoothAddress,
) -> Result<i16, String> {
    let device = device(&session, &adapter, peer).map_err(text)?;
    device
        .rssi()
        .await
        .map_err(text)?
        .ok_or_else(|| "bluetoothd has no RSSI for the device (it reports one only from advertisements and inquiry results)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_early_drop_gets_a_second_link() {
        // The bed's trace: the kernel drops the unattached link 2.0 s after it came up.
        match Unresolved::dropped(Duration::from_millis(2_030)) {
            Unresolved::DroppedUnattached(after) => assert_eq!(after.as_millis(), 2_030),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Unresolved::dropped(UNATTACHED_DROP),
            Unresolved::DroppedUnattached(_)
        ));
        // Later, bluetoothd had the link long enough: the peer left, no second try.
        let late = Unresolved::dropped(UNATTACHED_DROP + Duration::from_millis(1));
        assert!(matches!(late, Unresolved::Other(_)), "{late:?}");
        assert_eq!(
            late.to_string(),
            "the LE link dropped before bluetoothd resolved its services"
        );
    }
}
