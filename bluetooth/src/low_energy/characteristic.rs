//! [`LowEnergyCharacteristic`] and [`LowEnergyDescriptor`] (Qt's
//! `QLowEnergyCharacteristic` and `QLowEnergyDescriptor`): handles to the attributes of a
//! discovered service.

use std::fmt;
use std::rc::{Rc, Weak};

use uuid::Uuid;

use super::gatt::CharData;
use super::service::ServiceShared;
use super::{PropertyTypes, ServiceState};

/// The UUID of the Client Characteristic Configuration descriptor (0x2902), through
/// which notifications and indications are turned on and off.
pub const CLIENT_CHARACTERISTIC_CONFIGURATION: Uuid =
    Uuid::from_u128(0x0000_2902_0000_1000_8000_0080_5f9b_34fb);

/// A characteristic of a [`LowEnergyService`](super::LowEnergyService) (Qt's
/// `QLowEnergyCharacteristic`).
///
/// A handle: [`value`](Self::value) is the service's current copy (updated by reads,
/// writes and notifications). It stays usable as a key after its service is gone, but
/// [`is_valid`](Self::is_valid) is then false and operations with it are refused.
#[derive(Clone)]
pub struct LowEnergyCharacteristic {
    pub(crate) service: Weak<ServiceShared>,
    pub(crate) handle: u16,
    pub(crate) uuid: Uuid,
    pub(crate) properties: PropertyTypes,
}

impl fmt::Debug for LowEnergyCharacteristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LowEnergyCharacteristic")
            .field("uuid", &self.uuid)
            .field("handle", &self.handle)
            .field("properties", &self.properties)
            .finish()
    }
}

impl PartialEq for LowEnergyCharacteristic {
    fn eq(&self, other: &Self) -> bool {
        self.handle == other.handle && Weak::ptr_eq(&self.service, &other.service)
    }
}

impl Eq for LowEnergyCharacteristic {}

impl LowEnergyCharacteristic {
    pub(crate) fn new(service: &Rc<ServiceShared>, data: &CharData) -> Self {
        LowEnergyCharacteristic {
            service: Rc::downgrade(service),
            handle: data.handle,
            uuid: data.uuid,
            properties: data.properties,
        }
    }

    /// Its UUID (Qt: `uuid`).
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Its handle: the attribute handle of its declaration, as BlueZ names it. Qt's
    /// `handle` is the value's handle, which on every server seen is this one plus 1.
    pub fn handle(&self) -> u16 {
        self.handle
    }

    /// What it allows (Qt: `properties`).
    pub fn properties(&self) -> PropertyTypes {
        self.properties
    }

    /// Its current value (Qt: `value`): read at discovery
    /// ([`FullDiscovery`](super::DiscoveryMode::FullDiscovery)), then by each read, write
    /// and notification. Empty when unknown or when the service is gone.
    pub fn value(&self) -> Vec<u8> {
        self.with(|c| c.value.clone()).unwrap_or_default()
    }

    /// Whether its service still holds it on a live link (Qt: `isValid`).
    pub fn is_valid(&self) -> bool {
        match self.service.upgrade() {
            Some(s) => s.state() != ServiceState::InvalidService && self.with(|_| ()).is_some(),
            None => false,
        }
    }

    /// Its descriptors (Qt: `descriptors`).
    pub fn descriptors(&self) -> Vec<LowEnergyDescriptor> {
        self.with(|c| {
            c.descriptors
                .iter()
                .map(|d| LowEnergyDescriptor {
                    service: self.service.clone(),
                    characteristic: self.handle,
                    handle: d.handle,
                    uuid: d.uuid,
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// Its descriptor with `uuid`, if it has one (Qt: `descriptor`).
    pub fn descriptor(&self, uuid: Uuid) -> Option<LowEnergyDescriptor> {
        self.descriptors().into_iter().find(|d| d.uuid == uuid)
    }

    /// Its Client Characteristic Configuration descriptor (Qt:
    /// `clientCharacteristicConfiguration`).
    pub fn client_characteristic_configuration(&self) -> Option<LowEnergyDescriptor> {
        self.descriptor(CLIENT_CHARACTERISTIC_CONFIGURATION)
    }

    fn with<R>(&self, f: impl FnOnce(&CharData) -> R) -> Option<R> {
        let service = self.service.upgrade()?;
        let chars = service.chars.borrow();
        chars.iter().find(|c| c.handle == self.handle).map(f)
    }
}

/// A descriptor of a [`LowEnergyCharacteristic`] (Qt's `QLowEnergyDescriptor`).
#[derive(Clone)]
pub struct LowEnergyDescriptor {
    pub(crate) service: Weak<ServiceShared>,
    pub(crate) characteristic: u16,
    pub(crate) handle: u16,
    pub(crate) uuid: Uuid,
}

impl fmt::Debug for LowEnergyDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LowEnergyDescriptor")
            .field("uuid", &self.uuid)
            .field("handle", &self.handle)
            .finish()
    }
}

impl PartialEq for LowEnergyDescriptor {
    fn eq(&self, other: &Self) -> bool {
        self.handle == other.handle && Weak::ptr_eq(&self.service, &other.service)
    }
}

impl Eq for LowEnergyDescriptor {}

impl LowEnergyDescriptor {
    /// Its UUID (Qt: `uuid`).
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Its attribute handle (Qt: `handle`).
    pub fn handle(&self) -> u16 {
        self.handle
    }

    /// The handle of the characteristic it belongs to.
    pub fn characteristic_handle(&self) -> u16 {
        self.characteristic
    }

    /// Its current value (Qt: `value`); empty when unknown.
    pub fn value(&self) -> Vec<u8> {
        let Some(service) = self.service.upgrade() else {
            return Vec::new();
        };
        let chars = service.chars.borrow();
        chars
            .iter()
            .find(|c| c.handle == self.characteristic)
            .and_then(|c| c.descriptors.iter().find(|d| d.handle == self.handle))
            .map(|d| d.value.clone())
            .unwrap_or_default()
    }

    /// Whether its service still holds it on a live link (Qt: `isValid`).
    pub fn is_valid(&self) -> bool {
        match self.service.upgrade() {
            Some(s) => s.state() != ServiceState::InvalidService,
            None => false,
        }
    }
}
