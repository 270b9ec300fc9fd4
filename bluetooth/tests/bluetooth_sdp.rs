//! Services by UUID on the BlueZ test bed: records published through bluetoothd, found by
//! our own SDP client, connected to by UUID; and the checks that need no Bluetooth.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::sdp::{DataElement, SearchError, ServiceSearch};
use sigloop_bluetooth::uuids::{service_class, Uuid};
use sigloop_bluetooth::{
    BluetoothAddress, BluetoothServer, BluetoothSocket, Protocol, ServiceInfo,
};
use sigloop_core::{EventLoop, LoopHandle, SocketError, SocketState};
use sigloop_testbed::Testbed;
use sigloop_testbed::{collect, record};
use util::{fresh_uuid, LONG};

fn search(
    h: &LoopHandle,
    local: BluetoothAddress,
    remote: BluetoothAddress,
    pattern: &[Uuid],
) -> Result<Vec<ServiceInfo>, SearchError> {
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    let _search = ServiceSearch::start(h, local, remote, pattern, move |res| {
        *r.borrow_mut() = Some(res);
    })
    .expect("search starts");
    let r = result.clone();
    assert!(h
        .wait_until(Instant::now() + Duration::from_secs(40), || r
            .borrow()
            .is_some())
        .unwrap());
    let out = result.borrow_mut().take().unwrap();
    out
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn sdp_browse_finds_a_published_record_with_every_attribute() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let uuid = fresh_uuid(1);
    let mut info = ServiceInfo::new();
    info.set_service_name("sigloop attributes");
    info.set_service_description("every kind of value");
    info.set_service_provider("sigloop tests");
    info.set_service_uuid(uuid);
    info.set_service_class_uuids(&[uuid, service_class::SERIAL_PORT]);
    info.set_protocol(Protocol::Rfcomm, 27);
    info.set_public_browse_group();
    info.add_profile_descriptor(service_class::SERIAL_PORT, 0x0102);
    let extra = DataElement::Sequence(vec![
        DataElement::U32(0xdead_beef),
        DataElement::I16(-2),
        DataElement::Bool(true),
        DataElement::U64(1 << 40),
        DataElement::Text(vec![0, 1, 0xff]),
        DataElement::Url(b"http://example.com/x?a=1&b=<2>".to_vec()),
        DataElement::Alternative(vec![DataElement::U8(1), DataElement::Nil]),
    ]);
    info.set_attribute(0x0300, extra.clone());
    let registration = info.register_service().expect("bluetoothd registers");

    // Every browsable record, from the other controller: ours is among them.
    let all = search(
        &h,
        bed.address(1),
        bed.address(0),
        &[service_class::PUBLIC_BROWSE_GROUP],
    )
    .expect("browse");
    let found: Vec<_> = all.iter().filter(|r| r.has_uuid(uuid)).collect();
    assert_eq!(found.len(), 1, "records: {all:#?}");
    let got = found[0];
    assert_eq!(got.device(), bed.address(0));
    assert!(got.contains(0x0000), "bluetoothd gives a record handle");
    assert_eq!(got.service_name().as_deref(), Some("sigloop attributes"));
    assert_eq!(
        got.service_description().as_deref(),
        Some("every kind of value")
    );
    assert_eq!(got.service_provider().as_deref(), Some("sigloop tests"));
    assert_eq!(got.service_uuid(), Some(uuid));
    assert_eq!(
        got.service_class_uuids(),
        [uuid, service_class::SERIAL_PORT]
    );
    assert_eq!(got.port(), Some((Protocol::Rfcomm, 27)));
    assert_eq!(
        got.profile_descriptors(),
        [(service_class::SERIAL_PORT, 0x0102)]
    );
    assert_eq!(got.attribute(0x0300), Some(&extra));

    // Searching by the UUID finds exactly this record; after unregistering, nothing.
    let by_uuid = search(&h, bed.address(1), bed.address(0), &[uuid]).unwrap();
    assert_eq!(by_uuid.len(), 1);
    registration.unregister().expect("unregister");
    let after = search(&h, bed.address(1), bed.address(0), &[uuid]).unwrap();
    assert!(after.is_empty(), "{after:#?}");
}

/// The serving controller (hci0) holds an encrypted link to the client's (hci1), the bed's
/// cure for the kernel's security block (README, "Bluetooth facts"): a connect by UUID
/// runs SDP on an unencrypted link, and the connect right after it starts encryption; a
/// server still reading the new key's size then refuses it (EACCES on L2CAP,
/// ECONNREFUSED on RFCOMM). Seen here once in five runs without the held link.
fn hold_from_server(bed: &Testbed) -> sigloop_testbed::HeldLink {
    bed.hold_link_from(bed.address(0), bed.address(1))
        .expect("hold a link hci0 -> hci1")
}

fn connect_by_uuid(protocol: Protocol) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let uuid = fresh_uuid(2);
    let server = BluetoothServer::new(&h, protocol);
    let info = server
        .listen_uuid(uuid, "sigloop echo")
        .expect("listen_uuid");
    assert_eq!(info.port(), Some((protocol, server.server_port())));
    let accepted = Rc::new(RefCell::new(Vec::new()));
    let (s, a) = (server.clone(), accepted.clone());
    server.new_connection().connect(move |()| {
        while let Some(peer) = s.next_pending_connection() {
            let p = peer.clone();
            peer.ready_read().connect(move |()| {
                while let Some(packet) = p.read_packet() {
                    p.write(&packet).unwrap();
                }
            });
            a.borrow_mut().push(peer);
        }
    });

    let _held = hold_from_server(&bed);
    let client = BluetoothSocket::new(&h, protocol);
    client.set_local_adapter(bed.address(1));
    let log = record(&client);
    client
        .connect_to_service_uuid(bed.address(0), uuid)
        .expect("lookup starts");
    assert_eq!(client.state(), SocketState::ServiceLookup);
    assert!(
        client.wait_for_connected(LONG),
        "{:?} {}",
        client.error(),
        client.error_string()
    );
    assert_eq!(client.peer_port(), server.server_port());
    // Names come from bluetoothd, which met hci0 in the bed's discovery.
    assert!(!client.peer_name().is_empty());
    assert!(!client.local_name().is_empty());
    assert_eq!(
        log.borrow()[..3],
        ["state:ServiceLookup", "state:Connecting", "state:Connected"]
    );
    let got = collect(&client);
    client.write(b"found by uuid").unwrap();
    let g = got.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || g.borrow().len() >= 13)
        .unwrap());
    assert_eq!(&*got.borrow(), b"found by uuid");
    client.disconnect_from_service();
    assert!(client.wait_for_disconnected(LONG));

    // Closed: the record is gone, and a lookup says so.
    server.close();
    let again = BluetoothSocket::new(&h, protocol);
    again.set_local_adapter(bed.address(1));
    let log = record(&again);
    again
        .connect_to_service_uuid(bed.address(0), uuid)
        .expect("lookup starts");
    let a = again.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || a.state()
            == SocketState::Unconnected)
        .unwrap());
    assert_eq!(again.error(), Some(SocketError::ServiceNotFound));
    assert_eq!(
        *log.borrow(),
        [
            "state:ServiceLookup",
            "error:ServiceNotFound",
            "state:Unconnected"
        ],
        "{}",
        again.error_string()
    );
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn rfcomm_connect_by_uuid_then_record_gone_after_close() {
    connect_by_uuid(Protocol::Rfcomm);
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn l2cap_connect_by_uuid_then_record_gone_after_close() {
    connect_by_uuid(Protocol::L2cap);
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn abort_during_service_lookup_cancels_it() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let uuid = fresh_uuid(3);
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    let _info = server.listen_uuid(uuid, "never reached").unwrap();
    let _held = hold_from_server(&bed);
    let client = BluetoothSocket::new(&h, Protocol::Rfcomm);
    client.set_local_adapter(bed.address(1));
    let log = record(&client);
    client
        .connect_to_service_uuid(bed.address(0), uuid)
        .unwrap();
    client.abort();
    assert_eq!(client.state(), SocketState::Unconnected);
    // Long enough for the search to have finished had it gone on.
    h.wait_until(Instant::now() + Duration::from_secs(3), || false)
        .unwrap();
    assert_eq!(client.state(), SocketState::Unconnected);
    assert!(server.next_pending_connection().is_none());
    assert_eq!(
        *log.borrow(),
        ["state:ServiceLookup", "state:Unconnected"],
        "no connect after the abort"
    );
    // And the socket connects by UUID afterwards as new.
    client
        .connect_to_service_uuid(bed.address(0), uuid)
        .unwrap();
    assert!(client.wait_for_connected(LONG), "{}", client.error_string());
}

#[test]
fn connect_by_uuid_bad_input_changes_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let s = BluetoothSocket::new(&h, Protocol::Rfcomm);
    let uuid = fresh_uuid(4);
    assert_eq!(
        s.connect_to_service_uuid(BluetoothAddress::ANY, uuid),
        Err(SocketError::HostNotFound)
    );
    assert_eq!(s.state(), SocketState::Unconnected);
    assert_eq!(s.error(), None);
    // A record of the other protocol is refused before anything starts.
    let mut info = ServiceInfo::new();
    info.set_device("00:AA:01:00:00:01".parse().unwrap());
    info.set_protocol(Protocol::L2cap, 0x1001);
    assert_eq!(
        s.connect_to_service_info(&info),
        Err(SocketError::UnsupportedProtocol)
    );
    // Neither a port nor a UUID: nothing to connect to.
    let mut empty = ServiceInfo::new();
    empty.set_device("00:AA:01:00:00:01".parse().unwrap());
    assert_eq!(
        s.connect_to_service_info(&empty),
        Err(SocketError::ServiceNotFound)
    );
    assert_eq!(s.state(), SocketState::Unconnected);
    // An empty search pattern is refused at once.
    let r = ServiceSearch::start(
        &h,
        BluetoothAddress::ANY,
        "00:AA:01:00:00:01".parse().unwrap(),
        &[],
        |_| panic!("no result for a search that never started"),
    );
    assert!(matches!(r, Err(SearchError::Sdp(_))));
}
