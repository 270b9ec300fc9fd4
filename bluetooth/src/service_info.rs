//! [`ServiceInfo`] (Qt's `QBluetoothServiceInfo`): one SDP record, read from a peer or
//! built to be published.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::bluez::{BluezError, ServiceRegistration};
use crate::sdp::{Attributes, DataElement};
use crate::uuids::{protocol, service_class};
use crate::{BluetoothAddress, Protocol};

/// Attribute IDs of SDP records (Qt's `QBluetoothServiceInfo::AttributeId`).
pub mod attribute {
    /// The record's handle on its server (u32).
    pub const SERVICE_RECORD_HANDLE: u16 = 0x0000;
    /// Service class UUIDs, most specific first (sequence of UUIDs).
    pub const SERVICE_CLASS_IDS: u16 = 0x0001;
    /// A UUID naming this service instance (Qt: `serviceUuid`).
    pub const SERVICE_ID: u16 = 0x0003;
    /// How to reach the service: protocol stacks with their parameters.
    pub const PROTOCOL_DESCRIPTOR_LIST: u16 = 0x0004;
    /// Browse groups the record is listed in.
    pub const BROWSE_GROUP_LIST: u16 = 0x0005;
    /// Language base attribute IDs.
    pub const LANGUAGE_BASE_ATTRIBUTE_ID_LIST: u16 = 0x0006;
    /// Profiles the service follows, with versions.
    pub const BLUETOOTH_PROFILE_DESCRIPTOR_LIST: u16 = 0x0009;
    /// Documentation URL.
    pub const DOCUMENTATION_URL: u16 = 0x000a;
    /// The service's name, in the primary language (base 0x0100).
    pub const SERVICE_NAME: u16 = 0x0100;
    /// The service's description, in the primary language.
    pub const SERVICE_DESCRIPTION: u16 = 0x0101;
    /// The provider's name, in the primary language.
    pub const SERVICE_PROVIDER: u16 = 0x0102;
}

/// An SDP service record and the device it belongs to (Qt's `QBluetoothServiceInfo`).
///
/// It is a plain value: the typed accessors read and write the attributes Qt's do, and
/// [`attribute`](Self::attribute)/[`set_attribute`](Self::set_attribute) reach any
/// other. Records found on a peer come from [`ServiceSearch`](crate::sdp::ServiceSearch)
/// and the discovery agent; one built here is published with
/// [`register_service`](Self::register_service).
///
/// ```
/// use sigloop_bluetooth::{uuids, Protocol, ServiceInfo};
///
/// let uuid: uuids::Uuid = "e8e10f95-1a70-4b27-9ccf-02010264e9c8".parse()?;
/// let mut info = ServiceInfo::new();
/// info.set_service_name("chat");
/// info.set_service_uuid(uuid);
/// info.set_service_class_uuids(&[uuid, uuids::service_class::SERIAL_PORT]);
/// info.set_protocol(Protocol::Rfcomm, 5);
/// assert_eq!(info.socket_protocol(), Some(Protocol::Rfcomm));
/// assert_eq!(info.server_channel(), Some(5));
/// assert_eq!(info.service_name().as_deref(), Some("chat"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    device: BluetoothAddress,
    attributes: BTreeMap<u16, DataElement>,
}

impl ServiceInfo {
    /// An empty record.
    pub fn new() -> ServiceInfo {
        ServiceInfo::default()
    }

    /// A record read from `device`.
    pub fn from_attributes(device: BluetoothAddress, attributes: Attributes) -> ServiceInfo {
        ServiceInfo { device, attributes }
    }

    /// Every attribute, by ID.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// Whether the record has the attributes a connection needs: a protocol with a
    /// channel or PSM (Qt: `isComplete`, which asks for the protocol descriptor list).
    pub fn is_complete(&self) -> bool {
        self.socket_protocol().is_some()
    }

    /// Whether any attribute is set (Qt: `isValid`).
    pub fn is_valid(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// The device the record is on; the null address for a local record (Qt:
    /// `device().address()`).
    pub fn device(&self) -> BluetoothAddress {
        self.device
    }

    /// Sets the device (Qt: `setDevice`).
    pub fn set_device(&mut self, device: BluetoothAddress) {
        self.device = device;
    }

    /// One attribute (Qt: `attribute`).
    pub fn attribute(&self, id: u16) -> Option<&DataElement> {
        self.attributes.get(&id)
    }

    /// Sets an attribute, replacing any value it had (Qt: `setAttribute`).
    pub fn set_attribute(&mut self, id: u16, value: DataElement) {
        self.attributes.insert(id, value);
    }

    /// Removes an attribute, returning its value (Qt: `removeAttribute`).
    pub fn remove_attribute(&mut self, id: u16) -> Option<DataElement> {
        self.attributes.remove(&id)
    }

    /// Whether the attribute is set (Qt: `contains`).
    pub fn contains(&self, id: u16) -> bool {
        self.attributes.contains_key(&id)
    }

    fn text(&self, id: u16) -> Option<String> {
        self.attribute(id)
            .and_then(DataElement::as_str)
            .map(str::to_owned)
    }

    /// The service's name (Qt: `serviceName`).
    pub fn service_name(&self) -> Option<String> {
        self.text(attribute::SERVICE_NAME)
    }

    /// Sets the service's name (Qt: `setServiceName`).
    pub fn set_service_name(&mut self, name: &str) {
        self.set_attribute(attribute::SERVICE_NAME, name.into());
    }

    /// The description (Qt: `serviceDescription`).
    pub fn service_description(&self) -> Option<String> {
        self.text(attribute::SERVICE_DESCRIPTION)
    }

    /// Sets the description (Qt: `setServiceDescription`).
    pub fn set_service_description(&mut self, description: &str) {
        self.set_attribute(attribute::SERVICE_DESCRIPTION, description.into());
    }

    /// The provider (Qt: `serviceProvider`).
    pub fn service_provider(&self) -> Option<String> {
        self.text(attribute::SERVICE_PROVIDER)
    }

    /// Sets the provider (Qt: `setServiceProvider`).
    pub fn set_service_provider(&mut self, provider: &str) {
        self.set_attribute(attribute::SERVICE_PROVIDER, provider.into());
    }

    /// The ServiceId attribute (Qt: `serviceUuid`).
    pub fn service_uuid(&self) -> Option<Uuid> {
        self.attribute(attribute::SERVICE_ID)
            .and_then(DataElement::as_uuid)
    }

    /// Sets the ServiceId attribute (Qt: `setServiceUuid`).
    pub fn set_service_uuid(&mut self, uuid: Uuid) {
        self.set_attribute(attribute::SERVICE_ID, uuid.into());
    }

    /// The service class UUIDs, most specific first (Qt: `serviceClassUuids`).
    pub fn service_class_uuids(&self) -> Vec<Uuid> {
        self.attribute(attribute::SERVICE_CLASS_IDS)
            .and_then(DataElement::as_sequence)
            .map(|s| s.iter().filter_map(DataElement::as_uuid).collect())
            .unwrap_or_default()
    }

    /// Sets the service class UUIDs (Qt: `setServiceClassUuids`).
    pub fn set_service_class_uuids(&mut self, uuids: &[Uuid]) {
        let seq = uuids.iter().map(|u| DataElement::Uuid(*u)).collect();
        self.set_attribute(attribute::SERVICE_CLASS_IDS, DataElement::Sequence(seq));
    }

    /// The profiles the service follows, as (profile UUID, version) pairs; a version is
    /// `major << 8 | minor`.
    pub fn profile_descriptors(&self) -> Vec<(Uuid, u16)> {
        let Some(list) = self
            .attribute(attribute::BLUETOOTH_PROFILE_DESCRIPTOR_LIST)
            .and_then(DataElement::as_sequence)
        else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|d| match d.as_sequence()? {
                [DataElement::Uuid(u), DataElement::U16(v), ..] => Some((*u, *v)),
                _ => None,
            })
            .collect()
    }

    /// Adds a profile the service follows (Qt keeps these in
    /// `BluetoothProfileDescriptorList`).
    pub fn add_profile_descriptor(&mut self, profile: Uuid, version: u16) {
        let entry = DataElement::Sequence(vec![profile.into(), DataElement::U16(version)]);
        match self
            .attributes
            .get_mut(&attribute::BLUETOOTH_PROFILE_DESCRIPTOR_LIST)
        {
            Some(DataElement::Sequence(list)) => list.push(entry),
            _ => self.set_attribute(
                attribute::BLUETOOTH_PROFILE_DESCRIPTOR_LIST,
                DataElement::Sequence(vec![entry]),
            ),
        }
    }

    /// The parameters of `protocol_uuid` in the protocol descriptor list, e.g. the
    /// channel after RFCOMM's UUID (Qt: `protocolDescriptor`).
    pub fn protocol_descriptor(&self, protocol_uuid: Uuid) -> Option<&[DataElement]> {
        let stacks = self
            .attribute(attribute::PROTOCOL_DESCRIPTOR_LIST)?
            .as_sequence()?;
        // The list is one stack (a sequence of layers) or, as an alternative, several.
        let layers: Vec<&DataElement> = match stacks.first() {
            Some(DataElement::Sequence(first))
                if matches!(first.first(), Some(DataElement::Sequence(_))) =>
            {
                stacks
                    .iter()
                    .filter_map(DataElement::as_sequence)
                    .flatten()
                    .collect()
            }
            _ => stacks.iter().collect(),
        };
        layers
            .into_iter()
            .find_map(|layer| match layer.as_sequence()? {
                [DataElement::Uuid(u), params @ ..] if *u == protocol_uuid => Some(params),
                _ => None,
            })
    }

    /// The RFCOMM channel, if the service runs on RFCOMM (Qt: `serverChannel`, which
    /// gives -1 where this gives `None`).
    pub fn server_channel(&self) -> Option<u8> {
        match self.protocol_descriptor(protocol::RFCOMM)? {
            [DataElement::U8(c), ..] => Some(*c),
            _ => None,
        }
    }

    /// The L2CAP PSM, if the service runs on L2CAP directly (Qt:
    /// `protocolServiceMultiplexer`). `None` for RFCOMM services, whose L2CAP layer
    /// carries no PSM or RFCOMM's own.
    pub fn protocol_service_multiplexer(&self) -> Option<u16> {
        if self.server_channel().is_some() {
            return None;
        }
        match self.protocol_descriptor(protocol::L2CAP)? {
            [DataElement::U16(psm), ..] => Some(*psm),
            _ => None,
        }
    }

    /// RFCOMM if the record has an RFCOMM channel, L2CAP if it has a PSM, else `None`
    /// (Qt: `socketProtocol`, with `UnknownProtocol` as `None`).
    pub fn socket_protocol(&self) -> Option<Protocol> {
        if self.server_channel().is_some() {
            Some(Protocol::Rfcomm)
        } else if self.protocol_service_multiplexer().is_some() {
            Some(Protocol::L2cap)
        } else {
            None
        }
    }

    /// The channel or PSM a socket of the record's protocol connects to.
    pub fn port(&self) -> Option<(Protocol, u16)> {
        match self.socket_protocol()? {
            Protocol::Rfcomm => Some((Protocol::Rfcomm, self.server_channel()?.into())),
            Protocol::L2cap => Some((Protocol::L2cap, self.protocol_service_multiplexer()?)),
        }
    }

    /// Sets the protocol descriptor list to L2CAP then RFCOMM `port` (a channel), or to
    /// L2CAP `port` (a PSM) alone.
    pub fn set_protocol(&mut self, protocol: Protocol, port: u16) {
        let list = match protocol {
            Protocol::Rfcomm => vec![
                DataElement::Sequence(vec![protocol::L2CAP.into()]),
                DataElement::Sequence(vec![
                    protocol::RFCOMM.into(),
                    DataElement::U8(port.min(255) as u8),
                ]),
            ],
            Protocol::L2cap => vec![DataElement::Sequence(vec![
                protocol::L2CAP.into(),
                DataElement::U16(port),
            ])],
        };
        self.set_attribute(
            attribute::PROTOCOL_DESCRIPTOR_LIST,
            DataElement::Sequence(list),
        );
    }

    /// Lists the record in the public browse group, so a browse finds it.
    pub fn set_public_browse_group(&mut self) {
        self.set_attribute(
            attribute::BROWSE_GROUP_LIST,
            DataElement::Sequence(vec![service_class::PUBLIC_BROWSE_GROUP.into()]),
        );
    }

    /// Publishes this record through bluetoothd (Qt: `registerService`); peers find it
    /// by SDP until the returned handle is dropped or
    /// [`unregister`](crate::bluez::ServiceRegistration::unregister)ed (Qt:
    /// `unregisterService`). Blocks for bluetoothd's answer (at most
    /// [`CALL_TIMEOUT`](crate::bluez::CALL_TIMEOUT)).
    ///
    /// bluetoothd serves the record on every adapter it runs (BlueZ registers profiles
    /// per daemon, not per adapter). The service record handle, if set, is left out:
    /// bluetoothd assigns one.
    ///
    /// # Errors
    /// [`BluezError::NotRunning`] without bluetoothd, [`BluezError::Timeout`] if it does
    /// not answer, [`BluezError::InvalidRecord`] for a record BlueZ cannot take, and
    /// bluetoothd's own refusals.
    pub fn register_service(&self) -> Result<ServiceRegistration, BluezError> {
        crate::bluez::registration::register(self)
    }

    /// Whether `uuid` names this service: it is among its class UUIDs or its ServiceId
    /// (what Qt matches when it connects by UUID).
    pub fn has_uuid(&self, uuid: Uuid) -> bool {
        self.service_uuid() == Some(uuid) || self.service_class_uuids().contains(&uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::parse_attribute_lists;

    #[test]
    fn reads_an_rfcomm_record_from_the_wire() {
        // A record as bluetoothd serves it for a serial-port style profile on channel 5:
        // 0x0001 (custom, SerialPort), 0x0004 ((L2CAP), (RFCOMM, 5)), 0x0100 "echo".
        let custom: Uuid = "e8e10f95-1a70-4b27-9ccf-02010264e9c8".parse().unwrap();
        let mut info = ServiceInfo::new();
        info.set_service_class_uuids(&[custom, service_class::SERIAL_PORT]);
        info.set_protocol(Protocol::Rfcomm, 5);
        info.set_service_name("echo");
        info.add_profile_descriptor(service_class::SERIAL_PORT, 0x0102);
        let mut record = Vec::new();
        for (id, value) in info.attributes() {
            record.push(DataElement::U16(*id));
            record.push(value.clone());
        }
        let wire = DataElement::Sequence(vec![DataElement::Sequence(record)])
            .to_bytes()
            .unwrap();
        let records = parse_attribute_lists(&wire).unwrap();
        let got = ServiceInfo::from_attributes(BluetoothAddress::ANY, records[0].clone());
        assert_eq!(got, info);
        assert_eq!(got.server_channel(), Some(5));
        assert_eq!(got.protocol_service_multiplexer(), None);
        assert_eq!(got.port(), Some((Protocol::Rfcomm, 5)));
        assert!(got.has_uuid(custom));
        assert!(!got.has_uuid(service_class::OBEX_OBJECT_PUSH));
        assert_eq!(
            got.profile_descriptors(),
            [(service_class::SERIAL_PORT, 0x0102)]
        );
        assert_eq!(got.service_name().as_deref(), Some("echo"));
    }

    #[test]
    fn l2cap_and_alternative_stacks() {
        let mut info = ServiceInfo::new();
        info.set_protocol(Protocol::L2cap, 0x1001);
        assert_eq!(info.port(), Some((Protocol::L2cap, 0x1001)));
        // An alternative of two stacks: the RFCOMM one wins.
        info.set_attribute(
            attribute::PROTOCOL_DESCRIPTOR_LIST,
            DataElement::Alternative(vec![
                DataElement::Sequence(vec![DataElement::Sequence(vec![
                    protocol::L2CAP.into(),
                    DataElement::U16(0x1003),
                ])]),
                DataElement::Sequence(vec![
                    DataElement::Sequence(vec![protocol::L2CAP.into()]),
                    DataElement::Sequence(vec![protocol::RFCOMM.into(), DataElement::U8(9)]),
                ]),
            ]),
        );
        assert_eq!(info.port(), Some((Protocol::Rfcomm, 9)));
        info.set_attribute(attribute::PROTOCOL_DESCRIPTOR_LIST, DataElement::U8(1));
        assert_eq!(info.port(), None);
        assert!(!info.is_complete());
    }
}
