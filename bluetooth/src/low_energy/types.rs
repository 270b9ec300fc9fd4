//! The small value types of the LE classes: states, modes, address types, property flags.

use bitflags::bitflags;

/// The state of a [`LowEnergyController`](super::LowEnergyController) (Qt's
/// `QLowEnergyController::ControllerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ControllerState {
    /// No link (Qt: `UnconnectedState`).
    #[default]
    Unconnected,
    /// A link is being made (Qt: `ConnectingState`).
    Connecting,
    /// Linked; services not listed yet (Qt: `ConnectedState`).
    Connected,
    /// Listing the services (Qt: `DiscoveringState`).
    Discovering,
    /// Services listed (Qt: `DiscoveredState`).
    Discovered,
    /// The link is being closed (Qt: `ClosingState`).
    Closing,
    /// A peripheral advertising with no central linked (Qt: `AdvertisingState`).
    Advertising,
}

/// The state of a [`LowEnergyService`](super::LowEnergyService) (Qt's
/// `QLowEnergyService::ServiceState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceState {
    /// The link it was found on is gone (Qt: `InvalidService`).
    #[default]
    InvalidService,
    /// Known by UUID, details not discovered (Qt: `RemoteService`).
    RemoteService,
    /// Its characteristics are being discovered (Qt: `RemoteServiceDiscovering`).
    RemoteServiceDiscovering,
    /// Characteristics and descriptors known (Qt: `RemoteServiceDiscovered`).
    RemoteServiceDiscovered,
}

/// How much [`LowEnergyService::discover_details`](super::LowEnergyService::discover_details)
/// does (Qt's `QLowEnergyService::DiscoveryMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DiscoveryMode {
    /// Characteristics and descriptors, and every readable value (Qt: `FullDiscovery`).
    /// A read that fails or hangs leaves that value empty and does not hold up the rest.
    #[default]
    FullDiscovery,
    /// Characteristics and descriptors without their values (Qt:
    /// `SkipValueDiscovery`).
    SkipValueDiscovery,
}

/// How a characteristic is written (Qt's `QLowEnergyService::WriteMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteMode {
    /// The peer confirms the write; `characteristic_written` follows (Qt:
    /// `WriteWithResponse`).
    #[default]
    WithResponse,
    /// No confirmation and no signal (Qt: `WriteWithoutResponse`).
    WithoutResponse,
    /// A signed write without response (Qt: `WriteSigned`); BlueZ's D-Bus API offers
    /// none, so it is refused with [`RequestError::NotSupported`](super::RequestError).
    Signed,
}

/// The type of a remote LE address (Qt's `QLowEnergyController::RemoteAddressType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RemoteAddressType {
    /// A public (IEEE-assigned) address (Qt: `PublicAddress`).
    #[default]
    Public,
    /// A random address: static, or private and resolved by the kernel with a bonded
    /// key (Qt: `RandomAddress`).
    Random,
}

/// The role of a [`LowEnergyController`](super::LowEnergyController) (Qt's
/// `QLowEnergyController::Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Connects to a peripheral and uses its services (Qt: `CentralRole`).
    #[default]
    Central,
    /// Serves local services to centrals and advertises (Qt: `PeripheralRole`); see
    /// [`LowEnergyPeripheral`](super::LowEnergyPeripheral).
    Peripheral,
}

bitflags! {
    /// What a characteristic allows (Qt's `QLowEnergyCharacteristic::PropertyTypes`; the
    /// bits of the characteristic declaration, Bluetooth Core Vol 3 Part G 3.3.1.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PropertyTypes: u8 {
        /// Broadcast in advertising data (Qt: `Broadcasting`).
        const BROADCASTING = 0x01;
        /// Readable (Qt: `Read`).
        const READ = 0x02;
        /// Writable without response (Qt: `WriteNoResponse`).
        const WRITE_NO_RESPONSE = 0x04;
        /// Writable with response (Qt: `Write`).
        const WRITE = 0x08;
        /// Notifies (Qt: `Notify`).
        const NOTIFY = 0x10;
        /// Indicates (Qt: `Indicate`).
        const INDICATE = 0x20;
        /// Signed writes (Qt: `WriteSigned`).
        const WRITE_SIGNED = 0x40;
        /// Has extended properties (Qt: `ExtendedProperty`).
        const EXTENDED_PROPERTY = 0x80;
    }
}

impl PropertyTypes {
    pub(crate) fn from_bluer(f: &bluer::gatt::CharacteristicFlags) -> PropertyTypes {
        let mut p = PropertyTypes::empty();
        for (set, bit) in [
            (f.broadcast, PropertyTypes::BROADCASTING),
            (f.read, PropertyTypes::READ),
            (f.write_without_response, PropertyTypes::WRITE_NO_RESPONSE),
            (f.write, PropertyTypes::WRITE),
            (f.notify, PropertyTypes::NOTIFY),
            (f.indicate, PropertyTypes::INDICATE),
            (f.authenticated_signed_writes, PropertyTypes::WRITE_SIGNED),
            (f.extended_properties, PropertyTypes::EXTENDED_PROPERTY),
        ] {
            if set {
                p |= bit;
            }
        }
        p
    }
}
