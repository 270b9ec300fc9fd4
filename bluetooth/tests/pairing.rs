//! Pairing through bluetoothd (`LocalDevice::request_pairing`) and the program's own
//! agent (`PairingAgent`), on the BlueZ test bed.
//!
//! `pairing_*` run in one guest whose controllers the bed did not bond
//! (`TESTBED_NO_BOND=1`; one bluetoothd serves both sides, so every question of both
//! sides reaches this process's agent). `two_host_pairing_*` run in the two-host mode,
//! one agent per host: numeric comparison confirmed and refused, a passkey typed from
//! the other side's display. Every test first removes any bond between the two
//! controllers, on both sides, and has each side discover the other again (bluetoothd
//! forgets a device it unpairs).

mod util;

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::bluez::BluezError;
use sigloop_bluetooth::{
    raw, AgentError, AnswerError, BluetoothAddress, BluetoothServer, BluetoothSocket,
    DeviceDiscoveryAgent, DiscoveryMethods, IoCapability, LocalDevice, LocalDeviceError, Pairing,
    PairingAgent, PairingError, PairingRequest, Protocol, Question, SecurityFlags, PAIRING_TIMEOUT,
};
use sigloop_core::{EventLoop, LoopHandle, SignalSpy, SocketState};
use sigloop_testbed::Testbed;
use util::LONG;

/// The outcome of one pairing request.
fn outcome(
    h: &LoopHandle,
    local: &LocalDevice,
    peer: BluetoothAddress,
    wanted: Pairing,
) -> Result<Pairing, PairingError> {
    let finished = SignalSpy::new(local.pairing_finished());
    let errors = SignalSpy::new(local.error_occurred());
    local.request_pairing(peer, wanted)?;
    let deadline = Instant::now() + PAIRING_TIMEOUT + Duration::from_secs(5);
    while finished.count() + errors.count() == 0 {
        assert!(
            Instant::now() < deadline,
            "no outcome for {peer} within the pairing timeout"
        );
        h.process_events(Duration::from_millis(50)).unwrap();
    }
    if let Some((device, pairing)) = finished.take().pop() {
        assert_eq!(device, peer);
        return Ok(pairing);
    }
    match errors.take().pop().unwrap() {
        LocalDeviceError::Pairing { address, error } => {
            assert_eq!(address, peer);
            Err(error)
        }
        other => panic!("not a pairing error: {other}"),
    }
}

/// How many services resolutions bluetoothd has logged so far (each side browses the
/// other's SDP records after a bonding).
fn services_resolved() -> usize {
    util::bluetoothd_log_count("device_svc_resolved()")
}

/// An ACL link from `local` to `peer` without security (an L2CAP channel to the peer's
/// SDP server at security low), held while the fd lives.
///
/// The pairings of these tests run on such a link: a pairing that makes its own link
/// (dedicated bonding) ends it as soon as the keys are stored, while bluetoothd starts
/// browsing the peer's SDP records on it, and Debian's 6.1 kernel then corrupted its
/// list of channels when bluetoothd's SDP socket closed (an oops in `hci_chan_del`
/// from `l2cap_sock_release`, killing bluetoothd; once `hci_send_acl` on a deleted
/// connection from `l2cap_conn_start`). The same bug as the page-timeout one in the
/// README; a held link keeps the connection alive until both sides have browsed.
fn hold_low(local: BluetoothAddress, peer: BluetoothAddress) -> OwnedFd {
    let fd = raw::socket(Protocol::L2cap, false).unwrap();
    raw::bind(fd.as_fd(), Protocol::L2cap, local, 0).unwrap();
    raw::set_security_level(fd.as_fd(), 1).unwrap();
    raw::connect(fd.as_fd(), Protocol::L2cap, peer, 1)
        .unwrap_or_else(|e| panic!("hold a link {local} -> {peer}: {e}"));
    fd
}

/// [`outcome`] on a held link ([`hold_low`]); on success, waits until bluetoothd has
/// logged `browses` more services resolutions (both sides in one guest, this side in
/// two hosts) before the link is let go. bluetoothd browses after a bonding only a
/// device whose services it has not resolved yet: pair only devices [`renew`]ed since
/// (the one-guest tests' devices are: every bond is undone by a `renew`).
fn pair_on_held_link(
    h: &LoopHandle,
    local: &LocalDevice,
    peer: BluetoothAddress,
    wanted: Pairing,
    browses: usize,
) -> Result<Pairing, PairingError> {
    let held = hold_low(local.address(), peer);
    let before = services_resolved();
    let result = outcome(h, local, peer, wanted);
    if result.is_ok() {
        wait_browsed(h, before + browses);
    }
    drop(held);
    result
}

/// Waits until bluetoothd has logged `count` services resolutions.
fn wait_browsed(h: &LoopHandle, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while services_resolved() < count {
        assert!(
            Instant::now() < deadline,
            "bluetoothd did not browse the peer after pairing"
        );
        h.process_events(Duration::from_millis(50)).unwrap();
    }
}

/// Has `local` discover `peer` again (bluetoothd forgets a device it unpairs).
fn rediscover(h: &LoopHandle, local: BluetoothAddress, peer: BluetoothAddress) {
    let agent = DeviceDiscoveryAgent::new(h, local);
    agent.set_discovery_timeout(Duration::from_secs(30));
    let found = Rc::new(RefCell::new(false));
    let f = found.clone();
    agent.device_discovered().connect(move |d| {
        if d.address == peer {
            *f.borrow_mut() = true;
        }
    });
    let finished = SignalSpy::new(agent.finished());
    // Inquiry only: bluetoothd's interleaved discovery scans LE first, for seconds.
    agent.start_with(DiscoveryMethods::CLASSIC).unwrap();
    let deadline = Instant::now() + Duration::from_secs(35);
    while !*found.borrow() {
        assert!(finished.count() == 0, "{local} did not discover {peer}");
        assert!(
            Instant::now() < deadline,
            "{local} did not discover {peer} in 35 s"
        );
        h.process_events(Duration::from_millis(50)).unwrap();
    }
    agent.stop();
}

/// Whether bluetoothd on `local` (the default adapter for the null address) knows `peer`.
fn known(local: BluetoothAddress, peer: BluetoothAddress) -> bool {
    util::le::block_on(async {
        let session = bluer::Session::new().await.unwrap();
        let mut adapter = session.default_adapter().await.unwrap();
        for name in session.adapter_names().await.unwrap() {
            let a = session.adapter(&name).unwrap();
            if a.address().await.unwrap().0 == local.octets() {
                adapter = a;
            }
        }
        let peer = bluer::Address(peer.octets());
        adapter.device_addresses().await.unwrap().contains(&peer)
    })
}

/// Removes any bond `local` has with `peer` and makes bluetoothd know `peer` again,
/// unpaired. A device already known and unpaired is left as it is (a rediscovery takes
/// seconds).
fn forget(h: &LoopHandle, local: BluetoothAddress, peer: BluetoothAddress) {
    let device = LocalDevice::new(h, local).expect("the adapter");
    if device.pairing_status(peer) == Ok(Pairing::Unpaired) && known(local, peer) {
        return;
    }
    renew(h, &device, peer);
}

/// Removes `peer` from bluetoothd on `device`'s adapter (and any bond) and discovers it
/// again: a device bluetoothd has not browsed yet, which it browses after a bonding.
fn renew(h: &LoopHandle, device: &LocalDevice, peer: BluetoothAddress) {
    let local = device.address();
    assert_eq!(
        outcome(h, device, peer, Pairing::Unpaired),
        Ok(Pairing::Unpaired)
    );
    assert_eq!(device.pairing_status(peer), Ok(Pairing::Unpaired));
    rediscover(h, local, peer);
    assert_eq!(device.pairing_status(peer), Ok(Pairing::Unpaired));
}

/// hci0 and hci1 with no link between them, no bond either way, each known to the other.
fn unpaired_both_ways(h: &LoopHandle, bed: &Testbed) {
    let (a, b) = (bed.address(0), bed.address(1));
    bed.settle(0, 1);
    forget(h, a, b);
    forget(h, b, a);
}

/// How many link keys bluetoothd has stored so far (one debug line each in its log).
fn new_link_keys() -> usize {
    util::bluetoothd_log_count("new_link_key_callback() hci")
}

/// Collects every question the agent gets and answers it with `answer`.
fn answering(
    agent: &PairingAgent,
    answer: impl Fn(&PairingRequest) + 'static,
) -> Rc<RefCell<Vec<(BluetoothAddress, Question)>>> {
    let asked = Rc::new(RefCell::new(Vec::new()));
    let a = asked.clone();
    agent.request_received().connect(move |r| {
        a.borrow_mut().push((r.device(), r.question().clone()));
        answer(r);
    });
    asked
}

#[test]
#[ignore = "needs the BlueZ test bed (TESTBED_NO_BOND=1): run scripts/test-bluetooth"]
fn pairing_just_works_status_trust_reconnect_and_unpair() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (a, b) = (bed.address(0), bed.address(1));
    unpaired_both_ways(&h, &bed);

    // No agent: bluetoothd pairs as NoInputNoOutput, Just Works, no question.
    let local = LocalDevice::new(&h, a).unwrap();
    let keys = new_link_keys();
    assert_eq!(
        pair_on_held_link(&h, &local, b, Pairing::Paired, 2),
        Ok(Pairing::Paired)
    );
    assert_eq!(local.pairing_status(b), Ok(Pairing::Paired));
    assert!(new_link_keys() > keys, "the pairing stored no link key");
    let peer_side = LocalDevice::new(&h, b).unwrap();
    assert_eq!(
        peer_side.pairing_status(a),
        Ok(Pairing::Paired),
        "the answering side keeps the bond too (both sides bondable)"
    );

    // Trust, and back.
    assert_eq!(
        outcome(&h, &local, b, Pairing::AuthorizedPaired),
        Ok(Pairing::AuthorizedPaired)
    );
    assert_eq!(local.pairing_status(b), Ok(Pairing::AuthorizedPaired));
    assert_eq!(outcome(&h, &local, b, Pairing::Paired), Ok(Pairing::Paired));
    assert_eq!(local.pairing_status(b), Ok(Pairing::Paired));

    // A connect at security medium uses the stored key: no new pairing.
    bed.settle(0, 1);
    let keys = new_link_keys();
    let server = BluetoothServer::new(&h, Protocol::L2cap);
    server.set_security_flags(SecurityFlags::AUTHENTICATION | SecurityFlags::ENCRYPTION);
    server.listen(b, 0x1201).unwrap();
    let client = BluetoothSocket::new(&h, Protocol::L2cap);
    client.set_local_adapter(a);
    client.set_preferred_security_flags(SecurityFlags::AUTHENTICATION | SecurityFlags::ENCRYPTION);
    client
        .connect_to_service(b, 0x1201)
        .expect("connect starts");
    let mut accepted = None;
    h.wait_until(Instant::now() + LONG, || {
        if accepted.is_none() {
            accepted = server.next_pending_connection();
        }
        accepted.is_some() && client.state() != SocketState::Connecting
    })
    .unwrap();
    assert_eq!(
        client.state(),
        SocketState::Connected,
        "client: {:?}",
        client.error()
    );
    let conn = accepted.expect("the server accepted");
    assert_eq!(new_link_keys(), keys, "the connect at medium paired again");
    client.abort();
    conn.abort();
    drop(server);

    // Unpair: the bond and bluetoothd's record of the device go.
    bed.settle(0, 1);
    assert_eq!(
        outcome(&h, &local, b, Pairing::Unpaired),
        Ok(Pairing::Unpaired)
    );
    assert_eq!(local.pairing_status(b), Ok(Pairing::Unpaired));
    assert_eq!(
        outcome(&h, &local, b, Pairing::Paired),
        Err(PairingError::UnknownDevice),
        "an unpaired device is forgotten until discovered again"
    );
    assert_eq!(
        outcome(&h, &peer_side, a, Pairing::Unpaired),
        Ok(Pairing::Unpaired)
    );
    rediscover(&h, a, b);
    rediscover(&h, b, a);
}

#[test]
#[ignore = "needs the BlueZ test bed (TESTBED_NO_BOND=1): run scripts/test-bluetooth"]
fn pairing_bad_input_changes_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (a, b) = (bed.address(0), bed.address(1));
    unpaired_both_ways(&h, &bed);
    let local = LocalDevice::new(&h, a).unwrap();

    // Nobody has this address; bluetoothd never saw it.
    let nobody: BluetoothAddress = "00:AA:01:99:99:99".parse().unwrap();
    assert_eq!(
        outcome(&h, &local, nobody, Pairing::Paired),
        Err(PairingError::UnknownDevice)
    );
    assert_eq!(
        outcome(&h, &local, nobody, Pairing::Unpaired),
        Ok(Pairing::Unpaired),
        "nothing to remove is the state asked for"
    );
    assert_eq!(local.pairing_status(nobody), Ok(Pairing::Unpaired));
    assert_eq!(
        local.request_pairing(BluetoothAddress::ANY, Pairing::Paired),
        Err(PairingError::UnknownDevice)
    );

    // A second request while one runs is refused at once and emits nothing.
    let finished = SignalSpy::new(local.pairing_finished());
    let errors = SignalSpy::new(local.error_occurred());
    let held = hold_low(a, b);
    let before = services_resolved();
    local.request_pairing(b, Pairing::Paired).unwrap();
    assert_eq!(
        local.request_pairing(b, Pairing::Unpaired),
        Err(PairingError::InProgress)
    );
    let deadline = Instant::now() + PAIRING_TIMEOUT;
    while finished.count() + errors.count() == 0 {
        assert!(Instant::now() < deadline);
        h.process_events(Duration::from_millis(50)).unwrap();
    }
    // Let anything else that might come arrive.
    h.process_events(Duration::from_millis(500)).unwrap();
    assert_eq!(finished.take(), vec![(b, Pairing::Paired)]);
    assert!(errors.take().is_empty());
    wait_browsed(&h, before + 2);
    drop(held);
    assert_eq!(local.pairing_status(b), Ok(Pairing::Paired));

    // One agent per program; a dropped one can be registered again.
    let agent = PairingAgent::new(&h, IoCapability::DisplayYesNo).unwrap();
    assert_eq!(
        PairingAgent::new(&h, IoCapability::KeyboardOnly).unwrap_err(),
        AgentError::AlreadyRegistered
    );
    assert_eq!(agent.capability(), IoCapability::DisplayYesNo);
    drop(agent);
    let again = PairingAgent::new(&h, IoCapability::KeyboardOnly).unwrap();
    drop(again);

    unpaired_both_ways(&h, &bed);
}

#[test]
#[ignore = "needs the BlueZ test bed (TESTBED_NO_BOND=1): run scripts/test-bluetooth"]
fn pairing_numeric_comparison_both_sides_in_one_agent() {
    // One bluetoothd serves both controllers: the initiator's question goes to the
    // agent of the program that asked (ours), the answering side's to the default
    // agent (ours too). Both see the same number.
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (a, b) = (bed.address(0), bed.address(1));
    unpaired_both_ways(&h, &bed);
    let local = LocalDevice::new(&h, a).unwrap();

    let agent = PairingAgent::new(&h, IoCapability::DisplayYesNo).unwrap();
    let asked = answering(&agent, |r| r.accept().unwrap());
    assert_eq!(
        pair_on_held_link(&h, &local, b, Pairing::Paired, 2),
        Ok(Pairing::Paired)
    );
    // btvirt sends both controllers a User Confirmation Request with the number 0 (it
    // computes no real one). bluetoothd gives an agent one question at a time and
    // accepts a second confirmation while one is pending without asking (README): the
    // first to arrive, in every run so far the answering side's, reaches the agent.
    let asked = asked.take();
    assert!(!asked.is_empty() && asked.len() <= 2, "{asked:?}");
    let numbers: Vec<u32> = asked
        .iter()
        .map(|(_, q)| match q {
            Question::Confirmation { passkey } => *passkey,
            other => panic!("not a confirmation: {other:?}"),
        })
        .collect();
    assert!(
        numbers.iter().all(|n| *n == numbers[0] && *n <= 999_999),
        "{numbers:?}"
    );
    assert_eq!(local.pairing_status(b), Ok(Pairing::Paired));

    // Refused: no bond on either side.
    unpaired_both_ways(&h, &bed);
    drop(agent);
    let agent = PairingAgent::new(&h, IoCapability::DisplayYesNo).unwrap();
    let answered = Rc::new(RefCell::new(Vec::new()));
    let ans = answered.clone();
    let asked = answering(&agent, move |r| {
        // Whichever side is asked says no (bluetoothd asks one of them: see above).
        let result = r.reject();
        ans.borrow_mut().push(result);
        // Answering twice is refused and changes nothing.
        assert_eq!(r.accept(), Err(AnswerError::AlreadyAnswered));
    });
    let refused = pair_on_held_link(&h, &local, b, Pairing::Paired, 2);
    assert!(
        matches!(
            refused,
            Err(PairingError::AuthenticationFailed(_) | PairingError::Refused(_))
        ),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().reason().is_some());
    assert!(
        answered.borrow().iter().all(Result::is_ok),
        "{:?}",
        answered.borrow()
    );
    assert!(!asked.borrow().is_empty());
    assert_eq!(local.pairing_status(b), Ok(Pairing::Unpaired));
    assert_eq!(
        LocalDevice::new(&h, b).unwrap().pairing_status(a),
        Ok(Pairing::Unpaired)
    );

    // Unanswered: the agent's timeout refuses, and says so.
    unpaired_both_ways(&h, &bed);
    agent.set_answer_timeout(Duration::from_secs(2));
    let kept = Rc::new(RefCell::new(Vec::new()));
    let k = kept.clone();
    agent.request_received().disconnect_all();
    agent
        .request_received()
        .connect(move |r| k.borrow_mut().push(r.clone()));
    let cancelled = SignalSpy::new(agent.request_cancelled());
    let started = Instant::now();
    let timed_out = pair_on_held_link(&h, &local, b, Pairing::Paired, 2);
    assert!(timed_out.is_err(), "{timed_out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        cancelled.count() >= 1,
        "the timeout's refusal was not reported"
    );
    let kept = kept.take();
    assert!(!kept.is_empty());
    for r in &kept {
        assert!(!r.is_pending());
        assert_eq!(r.accept(), Err(AnswerError::NotPending));
    }
    assert_eq!(local.pairing_status(b), Ok(Pairing::Unpaired));
    drop(agent);

    unpaired_both_ways(&h, &bed);
}

#[test]
#[ignore = "needs the BlueZ test bed (TESTBED_NO_BOND=1): run scripts/test-bluetooth"]
fn pairing_unreachable_device_fails_in_bounded_time() {
    // b known to bluetoothd, but not connectable (page scan off): a page timeout.
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (a, b) = (bed.address(0), bed.address(1));
    bed.settle(0, 1);
    forget(&h, a, b);
    let scan = |mode: &str| {
        let ok = std::process::Command::new("hciconfig")
            .args(["hci1", mode])
            .status()
            .expect("hciconfig")
            .success();
        assert!(ok, "hciconfig hci1 {mode}");
    };
    scan("noscan");
    let local = LocalDevice::new(&h, a).unwrap();
    let started = Instant::now();
    let result = outcome(&h, &local, b, Pairing::Paired);
    scan("piscan");
    assert!(
        matches!(
            result,
            Err(PairingError::ConnectionFailed(BluezError::Failed { .. }))
        ),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(local.pairing_status(b), Ok(Pairing::Unpaired));
}

// ---- two hosts ----

/// The rendezvous directory the hosts share.
fn rdv(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("TESTBED_RDV").expect("TESTBED_RDV")).join(name)
}

/// Waits for the other host's file `name` and reads it.
fn read_rdv(bed: &Testbed, test: &str, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(rdv(name)) {
            if s.ends_with('\n') {
                return s.trim().to_string();
            }
        }
        bed.check_peers(test).unwrap();
        assert!(Instant::now() < deadline, "no {name} from the other host");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Both hosts forget each other, then meet at `test.start`.
fn two_host_begin(
    bed: &Testbed,
    h: &LoopHandle,
    test: &str,
) -> (bool, BluetoothAddress, sigloop_testbed::FailTogether) {
    let guard = bed.fail_together(test);
    bed.settle_host();
    let me = bed.host().expect("two-host mode");
    let peer = bed.host_address(if me == "a" { "b" } else { "a" });
    bed.barrier(&format!("{test}.forget"));
    // Always a renewed device: earlier tests of the boot may have had bluetoothd
    // browse it, and it then browses no more after a bonding (seen in CI: a waited
    // 20 s for the browse).
    let device = LocalDevice::new(h, BluetoothAddress::ANY).expect("the adapter");
    renew(h, &device, peer);
    bed.barrier(&format!("{test}.start"));
    (me == "a", peer, guard)
}

/// Runs the loop until `done` says so (at most PAIRING_TIMEOUT).
fn run_until(h: &LoopHandle, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PAIRING_TIMEOUT + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        h.process_events(Duration::from_millis(50)).unwrap();
    }
}

/// `test`, or with `TESTBED_ROUND=N` set `test-N`: the name of this run's barriers and
/// files in the hosts' shared directory (a series of runs in one boot needs new ones).
fn round(test: &str) -> String {
    match std::env::var("TESTBED_ROUND") {
        Ok(n) => format!("{test}-{n}"),
        Err(_) => test.to_string(),
    }
}

fn two_host_numeric_comparison(test: &str, b_confirms: bool) {
    let test = &round(test);
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (initiator, peer, _guard) = two_host_begin(&bed, &h, test);
    let local = LocalDevice::new(&h, BluetoothAddress::ANY).unwrap();
    let agent = PairingAgent::new(&h, IoCapability::DisplayYesNo).unwrap();
    let confirm = initiator || b_confirms;
    let asked = answering(&agent, move |r| {
        if confirm {
            r.accept().unwrap()
        } else {
            r.reject().unwrap()
        }
    });
    let me = bed.host().unwrap();
    let before = services_resolved();
    // Both agents registered before the pairing starts: until its agent is the default
    // one, the answering side's adapter is NoInputNoOutput and its kernel accepts the
    // pairing alone (seen: the refused test paired).
    bed.barrier(&format!("{test}.agents"));
    if initiator {
        // On a held link, let go once both hosts have browsed (see hold_low).
        let held = hold_low(local.address(), peer);
        let result = outcome(&h, &local, peer, Pairing::Paired);
        if b_confirms {
            assert_eq!(result, Ok(Pairing::Paired));
        } else {
            assert!(
                matches!(
                    result,
                    Err(PairingError::AuthenticationFailed(_) | PairingError::Refused(_))
                ),
                "{result:?}"
            );
        }
        if b_confirms {
            wait_browsed(&h, before + 1);
        }
        bed.barrier(&format!("{test}.done"));
        drop(held);
    } else {
        // The answering side: its question arrives through the default agent.
        run_until(&h, || !asked.borrow().is_empty());
        if b_confirms {
            wait_browsed(&h, before + 1);
        }
        bed.barrier(&format!("{test}.done"));
    }
    // Each host's bluetoothd asks its own agent once (btvirt asks both controllers,
    // with the number 0: see the one-guest test).
    let asked = asked.take();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let mut numbers = Vec::new();
    for (device, question) in &asked {
        assert_eq!(*device, peer);
        let Question::Confirmation { passkey } = question else {
            panic!("{asked:?}");
        };
        numbers.push(passkey.to_string());
    }
    std::fs::write(
        rdv(&format!("{test}.passkey.{me}")),
        format!("{}\n", numbers.join(" ")),
    )
    .unwrap();
    let other = read_rdv(
        &bed,
        test,
        &format!("{test}.passkey.{}", if initiator { "b" } else { "a" }),
    );
    assert_eq!(
        other,
        numbers.join(" "),
        "both hosts compare the same number"
    );
    let expected = if b_confirms {
        Pairing::Paired
    } else {
        Pairing::Unpaired
    };
    assert_eq!(local.pairing_status(peer), Ok(expected));
    bed.barrier(&format!("{test}.checked"));
    drop(agent);
    bed.settle_host();
    forget(&h, BluetoothAddress::ANY, peer);
    bed.barrier(&format!("{test}.end"));
}

#[test]
#[ignore = "needs the BlueZ test bed's two-host mode: run scripts/test-bluetooth"]
fn two_host_pairing_numeric_comparison_confirmed() {
    two_host_numeric_comparison("two_host_pairing_numeric_comparison_confirmed", true);
}

#[test]
#[ignore = "needs the BlueZ test bed's two-host mode: run scripts/test-bluetooth"]
fn two_host_pairing_numeric_comparison_refused() {
    two_host_numeric_comparison("two_host_pairing_numeric_comparison_refused", false);
}
