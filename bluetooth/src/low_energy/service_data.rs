//! What a local GATT service is made of (Qt's `QLowEnergyServiceData`,
//! `QLowEnergyCharacteristicData`, `QLowEnergyDescriptorData`): plain values, checked when
//! the service is added to a [`LowEnergyPeripheral`](super::LowEnergyPeripheral).

use bitflags::bitflags;
use uuid::Uuid;

use super::{PeripheralError, PropertyTypes, CLIENT_CHARACTERISTIC_CONFIGURATION};

/// The longest attribute value, in bytes (Bluetooth Core Vol 3 Part F 3.2.9).
const MAX_VALUE: usize = 512;

bitflags! {
    /// What a central must have to read or write an attribute (Qt's
    /// `QBluetooth::AttAccessConstraints`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AttAccessConstraints: u8 {
        /// bluetoothd asks this program first (Qt: `AttAuthorizationRequired`); BlueZ's
        /// D-Bus API has no such question for applications, so it is refused.
        const AUTHORIZATION_REQUIRED = 0x1;
        /// An authenticated (MITM-protected) encrypted link (Qt:
        /// `AttAuthenticationRequired`).
        const AUTHENTICATION_REQUIRED = 0x2;
        /// An encrypted link (Qt: `AttEncryptionRequired`).
        const ENCRYPTION_REQUIRED = 0x4;
    }
}

/// Primary or secondary (Qt's `QLowEnergyServiceData::ServiceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceType {
    /// Found by a central's service discovery (Qt: `ServiceTypePrimary`).
    #[default]
    Primary,
    /// Only included by other services (Qt: `ServiceTypeSecondary`).
    Secondary,
}

/// A descriptor of a local characteristic (Qt's `QLowEnergyDescriptorData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LowEnergyDescriptorData {
    uuid: Uuid,
    value: Vec<u8>,
    readable: bool,
    read_constraints: AttAccessConstraints,
    writable: bool,
    write_constraints: AttAccessConstraints,
}

impl LowEnergyDescriptorData {
    /// A readable, not writable descriptor with `value` (Qt's constructor).
    pub fn new(uuid: Uuid, value: impl Into<Vec<u8>>) -> Self {
        LowEnergyDescriptorData {
            uuid,
            value: value.into(),
            readable: true,
            ..Default::default()
        }
    }

    /// Its UUID.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Its value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Whether centrals may read it, and with what (Qt: `setReadPermissions`).
    pub fn set_read_permissions(&mut self, readable: bool, constraints: AttAccessConstraints) {
        self.readable = readable;
        self.read_constraints = constraints;
    }

    /// Whether centrals may write it, and with what (Qt: `setWritePermissions`).
    pub fn set_write_permissions(&mut self, writable: bool, constraints: AttAccessConstraints) {
        self.writable = writable;
        self.write_constraints = constraints;
    }

    /// Readable (Qt: `isReadable`).
    pub fn is_readable(&self) -> bool {
        self.readable
    }

    /// Writable (Qt: `isWritable`).
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Read constraints (Qt: `readConstraints`).
    pub fn read_constraints(&self) -> AttAccessConstraints {
        self.read_constraints
    }

    /// Write constraints (Qt: `writeConstraints`).
    pub fn write_constraints(&self) -> AttAccessConstraints {
        self.write_constraints
    }
}

/// A characteristic of a local service (Qt's `QLowEnergyCharacteristicData`).
///
/// The Client Characteristic Configuration descriptor (0x2902) that Qt's examples add to
/// a notifying characteristic may be added or left out: bluetoothd makes that descriptor
/// itself for every characteristic with [`NOTIFY`](PropertyTypes::NOTIFY) or
/// [`INDICATE`](PropertyTypes::INDICATE), and keeps one per central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowEnergyCharacteristicData {
    uuid: Uuid,
    value: Vec<u8>,
    properties: PropertyTypes,
    read_constraints: AttAccessConstraints,
    write_constraints: AttAccessConstraints,
    min_length: usize,
    max_length: usize,
    descriptors: Vec<LowEnergyDescriptorData>,
}

impl Default for LowEnergyCharacteristicData {
    fn default() -> Self {
        LowEnergyCharacteristicData {
            uuid: Uuid::nil(),
            value: Vec::new(),
            properties: PropertyTypes::empty(),
            read_constraints: AttAccessConstraints::empty(),
            write_constraints: AttAccessConstraints::empty(),
            min_length: 0,
            max_length: MAX_VALUE,
            descriptors: Vec::new(),
        }
    }
}

impl LowEnergyCharacteristicData {
    /// A characteristic with `uuid`, `properties` and a first `value`.
    pub fn new(uuid: Uuid, properties: PropertyTypes, value: impl Into<Vec<u8>>) -> Self {
        LowEnergyCharacteristicData {
            uuid,
            properties,
            value: value.into(),
            ..Default::default()
        }
    }

    /// Its UUID (Qt: `uuid`).
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Sets its UUID (Qt: `setUuid`).
    pub fn set_uuid(&mut self, uuid: Uuid) {
        self.uuid = uuid;
    }

    /// Its first value (Qt: `value`).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Sets its first value (Qt: `setValue`).
    pub fn set_value(&mut self, value: impl Into<Vec<u8>>) {
        self.value = value.into();
    }

    /// What it allows (Qt: `properties`).
    pub fn properties(&self) -> PropertyTypes {
        self.properties
    }

    /// Sets what it allows (Qt: `setProperties`).
    pub fn set_properties(&mut self, properties: PropertyTypes) {
        self.properties = properties;
    }

    /// What a read needs (Qt: `setReadConstraints`).
    pub fn set_read_constraints(&mut self, constraints: AttAccessConstraints) {
        self.read_constraints = constraints;
    }

    /// What a write needs (Qt: `setWriteConstraints`).
    pub fn set_write_constraints(&mut self, constraints: AttAccessConstraints) {
        self.write_constraints = constraints;
    }

    /// Read constraints (Qt: `readConstraints`).
    pub fn read_constraints(&self) -> AttAccessConstraints {
        self.read_constraints
    }

    /// Write constraints (Qt: `writeConstraints`).
    pub fn write_constraints(&self) -> AttAccessConstraints {
        self.write_constraints
    }

    /// The lengths a value may have, `min..=max` bytes (Qt: `setValueLength`; default
    /// 0 to 512). Writes by centrals outside them are refused with "invalid value
    /// length", and so is this program's own
    /// [`write_characteristic`](super::LocalService::write_characteristic).
    pub fn set_value_length(&mut self, min: usize, max: usize) {
        self.min_length = min;
        self.max_length = max;
    }

    /// The shortest value allowed (Qt: `minimumValueLength`).
    pub fn minimum_value_length(&self) -> usize {
        self.min_length
    }

    /// The longest value allowed (Qt: `maximumValueLength`).
    pub fn maximum_value_length(&self) -> usize {
        self.max_length
    }

    /// Adds a descriptor (Qt: `addDescriptor`).
    pub fn add_descriptor(&mut self, descriptor: LowEnergyDescriptorData) {
        self.descriptors.push(descriptor);
    }

    /// Its descriptors (Qt: `descriptors`).
    pub fn descriptors(&self) -> &[LowEnergyDescriptorData] {
        &self.descriptors
    }

    /// Sets its descriptors (Qt: `setDescriptors`).
    pub fn set_descriptors(&mut self, descriptors: Vec<LowEnergyDescriptorData>) {
        self.descriptors = descriptors;
    }

    /// The descriptors bluetoothd does not make itself.
    pub(crate) fn own_descriptors(&self) -> impl Iterator<Item = &LowEnergyDescriptorData> {
        self.descriptors
            .iter()
            .filter(|d| d.uuid != CLIENT_CHARACTERISTIC_CONFIGURATION)
    }

    pub(crate) fn check(&self) -> Result<(), PeripheralError> {
        let uuid = self.uuid;
        if uuid.is_nil() {
            return Err(PeripheralError::InvalidData("a characteristic has no UUID"));
        }
        if self.min_length > self.max_length || self.max_length > MAX_VALUE {
            return Err(PeripheralError::InvalidData(
                "a characteristic's value length bounds are not within 0..=512",
            ));
        }
        check_length(self.value.len(), self.min_length, self.max_length)?;
        if self.properties.contains(PropertyTypes::WRITE_SIGNED) {
            return Err(PeripheralError::NotSupported(
                "signed writes (BlueZ's D-Bus API serves none)",
            ));
        }
        if (self.read_constraints | self.write_constraints)
            .contains(AttAccessConstraints::AUTHORIZATION_REQUIRED)
        {
            return Err(PeripheralError::NotSupported(
                "authorization (BlueZ asks applications no such question)",
            ));
        }
        let mut seen = Vec::new();
        for d in self.own_descriptors() {
            if d.uuid.is_nil() {
                return Err(PeripheralError::InvalidData("a descriptor has no UUID"));
            }
            if d.value.len() > MAX_VALUE {
                return Err(PeripheralError::ValueTooLong(d.value.len()));
            }
            if seen.contains(&d.uuid) {
                return Err(PeripheralError::DuplicateUuid(d.uuid));
            }
            seen.push(d.uuid);
        }
        Ok(())
    }
}

/// A value's length against its characteristic's bounds.
pub(crate) fn check_length(len: usize, min: usize, max: usize) -> Result<(), PeripheralError> {
    if len > MAX_VALUE {
        return Err(PeripheralError::ValueTooLong(len));
    }
    if len < min || len > max {
        return Err(PeripheralError::ValueLength { len, min, max });
    }
    Ok(())
}

/// A local service (Qt's `QLowEnergyServiceData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LowEnergyServiceData {
    uuid: Uuid,
    service_type: ServiceType,
    characteristics: Vec<LowEnergyCharacteristicData>,
}

impl LowEnergyServiceData {
    /// A primary service with `uuid` and no characteristics yet.
    pub fn new(uuid: Uuid) -> Self {
        LowEnergyServiceData {
            uuid,
            ..Default::default()
        }
    }

    /// Its UUID (Qt: `uuid`).
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Sets its UUID (Qt: `setUuid`).
    pub fn set_uuid(&mut self, uuid: Uuid) {
        self.uuid = uuid;
    }

    /// Primary or secondary (Qt: `type`).
    pub fn service_type(&self) -> ServiceType {
        self.service_type
    }

    /// Sets primary or secondary (Qt: `setType`).
    pub fn set_type(&mut self, service_type: ServiceType) {
        self.service_type = service_type;
    }

    /// Adds a characteristic (Qt: `addCharacteristic`).
    pub fn add_characteristic(&mut self, characteristic: LowEnergyCharacteristicData) {
        self.characteristics.push(characteristic);
    }

    /// Its characteristics (Qt: `characteristics`).
    pub fn characteristics(&self) -> &[LowEnergyCharacteristicData] {
        &self.characteristics
    }

    /// Checks what [`LowEnergyPeripheral::add_service`](super::LowEnergyPeripheral::add_service)
    /// refuses: no UUID, a characteristic UUID twice (characteristics are named by UUID),
    /// a value over 512 bytes or outside its bounds, what BlueZ cannot serve.
    pub(crate) fn check(&self) -> Result<(), PeripheralError> {
        if self.uuid.is_nil() {
            return Err(PeripheralError::InvalidData("the service has no UUID"));
        }
        let mut seen = Vec::new();
        for c in &self.characteristics {
            c.check()?;
            if seen.contains(&c.uuid) {
                return Err(PeripheralError::DuplicateUuid(c.uuid));
            }
            seen.push(c.uuid);
        }
        Ok(())
    }
}
