//! What a peripheral advertises and how (Qt's `QLowEnergyAdvertisingData` and
//! `QLowEnergyAdvertisingParameters`), and how it becomes bluetoothd's `Advertisement1`.

use std::collections::BTreeMap;
use std::time::Duration;

use uuid::Uuid;

use super::PeripheralError;
use crate::uuids::{short16, short32};

/// The longest legacy advertising or scan response payload, in bytes (Bluetooth Core
/// Vol 6 Part B 2.3.1).
pub const MAX_ADVERTISING_DATA: usize = 31;

/// How discoverable the advertisement says the device is (Qt's
/// `QLowEnergyAdvertisingData::Discoverability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Discoverability {
    /// Not discoverable (Qt: `DiscoverabilityNone`).
    None,
    /// Limited discoverable mode (Qt: `DiscoverabilityLimited`); BlueZ's D-Bus API
    /// offers none, so it is refused with [`PeripheralError::NotSupported`].
    Limited,
    /// General discoverable mode (Qt: `DiscoverabilityGeneral`).
    #[default]
    General,
}

/// What is advertised (Qt's `QLowEnergyAdvertisingData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LowEnergyAdvertisingData {
    local_name: Option<String>,
    manufacturer: Option<(u16, Vec<u8>)>,
    include_power_level: bool,
    discoverability: Discoverability,
    services: Vec<Uuid>,
    raw: Vec<u8>,
}

impl LowEnergyAdvertisingData {
    /// Nothing advertised yet; general discoverable.
    pub fn new() -> Self {
        Self::default()
    }

    /// The local name (Qt: `setLocalName`). bluetoothd sends it in the scan response.
    pub fn set_local_name(&mut self, name: impl Into<String>) {
        self.local_name = Some(name.into());
    }

    /// The local name (Qt: `localName`).
    pub fn local_name(&self) -> Option<&str> {
        self.local_name.as_deref()
    }

    /// Manufacturer data under a company identifier (Qt: `setManufacturerData`).
    pub fn set_manufacturer_data(&mut self, company: u16, data: impl Into<Vec<u8>>) {
        self.manufacturer = Some((company, data.into()));
    }

    /// The manufacturer data (Qt: `manufacturerId` and `manufacturerData`).
    pub fn manufacturer_data(&self) -> Option<(u16, &[u8])> {
        self.manufacturer.as_ref().map(|(c, d)| (*c, d.as_slice()))
    }

    /// Whether the transmit power is included (Qt: `setIncludePowerLevel`).
    pub fn set_include_power_level(&mut self, include: bool) {
        self.include_power_level = include;
    }

    /// Whether the transmit power is included (Qt: `includePowerLevel`).
    pub fn include_power_level(&self) -> bool {
        self.include_power_level
    }

    /// Discoverability (Qt: `setDiscoverability`).
    pub fn set_discoverability(&mut self, d: Discoverability) {
        self.discoverability = d;
    }

    /// Discoverability (Qt: `discoverability`).
    pub fn discoverability(&self) -> Discoverability {
        self.discoverability
    }

    /// The service UUIDs advertised (Qt: `setServices`).
    pub fn set_services(&mut self, services: Vec<Uuid>) {
        self.services = services;
    }

    /// The service UUIDs advertised (Qt: `services`).
    pub fn services(&self) -> &[Uuid] {
        &self.services
    }

    /// Raw advertising data, AD structures as sent (Qt: `setRawData`): when set, every
    /// other field but the discoverability is ignored, as in Qt. Each structure's type
    /// and data go to bluetoothd, which adds the flags itself.
    pub fn set_raw_data(&mut self, raw: impl Into<Vec<u8>>) {
        self.raw = raw.into();
    }

    /// The raw advertising data (Qt: `rawData`).
    pub fn raw_data(&self) -> &[u8] {
        &self.raw
    }

    /// True when nothing is set (Qt's default-constructed data).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The raw data's AD structures as (type, data).
    fn raw_structures(&self) -> Result<BTreeMap<u8, Vec<u8>>, PeripheralError> {
        let mut out = BTreeMap::new();
        let mut rest = self.raw.as_slice();
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if len == 0 {
                break; // the rest is padding
            }
            if tail.len() < len {
                return Err(PeripheralError::InvalidData(
                    "raw advertising data: an AD structure runs past the end",
                ));
            }
            out.insert(tail[0], tail[1..len].to_vec());
            rest = &tail[len..];
        }
        Ok(out)
    }

    /// The bytes these fields take in an advertising payload, flags excluded; the name is
    /// counted apart (it goes in the scan response).
    fn payload_len(&self) -> Result<usize, PeripheralError> {
        if !self.raw.is_empty() {
            return Ok(self.raw_structures()?.values().map(|d| 2 + d.len()).sum());
        }
        let mut len = 0;
        let (mut n16, mut n32, mut n128) = (0, 0, 0);
        for u in &self.services {
            match uuid_size(u) {
                2 => n16 += 1,
                4 => n32 += 1,
                _ => n128 += 1,
            }
        }
        for (n, size) in [(n16, 2), (n32, 4), (n128, 16)] {
            if n > 0 {
                len += 2 + n * size;
            }
        }
        if let Some((_, d)) = &self.manufacturer {
            len += 4 + d.len();
        }
        if self.include_power_level {
            len += 3;
        }
        Ok(len)
    }
}

/// The bytes a UUID takes in advertising data: 2 or 4 for one from the Bluetooth base.
fn uuid_size(u: &Uuid) -> usize {
    if short16(*u).is_some() {
        2
    } else if short32(*u).is_some() {
        4
    } else {
        16
    }
}

/// How a peripheral advertises (Qt's `QLowEnergyAdvertisingParameters::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AdvertisingMode {
    /// Connectable and scannable (Qt: `AdvInd`).
    #[default]
    AdvInd,
    /// Scannable, not connectable (Qt: `AdvScanInd`). bluetoothd makes a broadcast
    /// advertisement scannable when it has a scan response (a local name) to give.
    AdvScanInd,
    /// Neither connectable nor scannable (Qt: `AdvNonConnInd`); the local name is then
    /// not sent.
    AdvNonConnInd,
}

/// How a peripheral advertises (Qt's `QLowEnergyAdvertisingParameters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LowEnergyAdvertisingParameters {
    mode: AdvertisingMode,
    interval: Option<(u16, u16)>,
}

impl Default for LowEnergyAdvertisingParameters {
    fn default() -> Self {
        LowEnergyAdvertisingParameters {
            mode: AdvertisingMode::AdvInd,
            interval: None,
        }
    }
}

impl LowEnergyAdvertisingParameters {
    /// Connectable advertising at bluetoothd's interval.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mode (Qt: `setMode`).
    pub fn set_mode(&mut self, mode: AdvertisingMode) {
        self.mode = mode;
    }

    /// The mode (Qt: `mode`).
    pub fn mode(&self) -> AdvertisingMode {
        self.mode
    }

    /// The advertising interval range in milliseconds (Qt: `setInterval`); 20 to 10240,
    /// `min <= max`. bluetoothd takes it only with its experimental features on
    /// (`bluetoothd -E`); otherwise it picks its own.
    pub fn set_interval(&mut self, min_ms: u16, max_ms: u16) {
        self.interval = Some((min_ms, max_ms));
    }

    /// The interval range asked for, in milliseconds (Qt: `minimumInterval`,
    /// `maximumInterval`); `None`: bluetoothd's.
    pub fn interval(&self) -> Option<(u16, u16)> {
        self.interval
    }
}

/// `data` and `scan_response` (whose fields are merged into `data`'s: BlueZ's D-Bus
/// API takes one set and puts the name in the scan response itself) as bluer's
/// advertisement, after checking they fit.
pub(crate) fn advertisement(
    params: &LowEnergyAdvertisingParameters,
    data: &LowEnergyAdvertisingData,
    scan_response: &LowEnergyAdvertisingData,
) -> Result<bluer::adv::Advertisement, PeripheralError> {
    if data.discoverability == Discoverability::Limited
        || scan_response.discoverability == Discoverability::Limited
    {
        return Err(PeripheralError::NotSupported(
            "limited discoverability (BlueZ's D-Bus API has none)",
        ));
    }
    if let Some((min, max)) = params.interval {
        if min < 20 || max > 10240 || min > max {
            return Err(PeripheralError::InvalidData(
                "the advertising interval must be within 20..=10240 ms, min <= max",
            ));
        }
    }
    let connectable = params.mode == AdvertisingMode::AdvInd;
    let discoverable = connectable && data.discoverability == Discoverability::General;
    let flags = if discoverable || connectable { 3 } else { 0 };
    let len = flags + data.payload_len()? + scan_response.payload_len()?;
    if len > MAX_ADVERTISING_DATA {
        return Err(PeripheralError::AdvertisingDataTooLong {
            len,
            limit: MAX_ADVERTISING_DATA,
        });
    }
    let name = data
        .local_name
        .clone()
        .or_else(|| scan_response.local_name.clone());
    if let Some(name) = &name {
        if 2 + name.len() > MAX_ADVERTISING_DATA {
            return Err(PeripheralError::AdvertisingDataTooLong {
                len: 2 + name.len(),
                limit: MAX_ADVERTISING_DATA,
            });
        }
    }
    let mut adv = bluer::adv::Advertisement {
        advertisement_type: if connectable {
            bluer::adv::Type::Peripheral
        } else {
            bluer::adv::Type::Broadcast
        },
        discoverable: Some(discoverable),
        local_name: if params.mode == AdvertisingMode::AdvNonConnInd {
            None
        } else {
            name
        },
        ..Default::default()
    };
    if let Some((min, max)) = params.interval {
        adv.min_interval = Some(Duration::from_millis(min.into()));
        adv.max_interval = Some(Duration::from_millis(max.into()));
    }
    for d in [data, scan_response] {
        if !d.raw.is_empty() {
            adv.advertising_data.extend(d.raw_structures()?);
            continue;
        }
        adv.service_uuids.extend(d.services.iter().copied());
        if let Some((company, bytes)) = &d.manufacturer {
            adv.manufacturer_data.insert(*company, bytes.clone());
        }
        if d.include_power_level {
            adv.system_includes.insert(bluer::adv::Feature::TxPower);
        }
    }
    Ok(adv)
}
