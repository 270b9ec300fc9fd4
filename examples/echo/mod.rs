//! Shared by the four Bluetooth echo examples: flags, the server and the client. Each
//! example uses half of it.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sigloop::bluetooth::uuids::Uuid;
use sigloop::bluetooth::{BluetoothAddress, BluetoothServer, BluetoothSocket, L2capMode, Protocol};
use sigloop::core::{EventLoop, SocketNotifier};

#[path = "../stdin/mod.rs"]
mod stdin;

/// The channel or PSM used when none is given.
pub const DEFAULT_RFCOMM_CHANNEL: u16 = 5;
/// See [`DEFAULT_RFCOMM_CHANNEL`].
pub const DEFAULT_L2CAP_PSM: u16 = 0x1001;

fn port_flag(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Rfcomm => "--channel",
        Protocol::L2cap => "--psm",
    }
}

fn port_word(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Rfcomm => "channel",
        Protocol::L2cap => "psm",
    }
}

/// The L2CAP mode the examples ask for: ERTM unless `--basic` was given. In basic mode
/// (Qt's only one) L2CAP has no flow control and the kernel drops packets that reach a
/// full receive buffer: a client typing many short lines into the echo server lost
/// packets that way on the test bed. ERTM makes the sender wait instead. A peer that does
/// not take ERTM leaves the channel in basic mode.
fn l2cap_mode(basic: bool) -> L2capMode {
    if basic {
        L2capMode::Basic
    } else {
        L2capMode::Ertm
    }
}

/// Parses `N` or `0xN`.
fn parse_port(s: &str) -> Result<u16, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("not a channel or PSM: {s}"))
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// A service given as a UUID (36 characters with dashes) or as a channel/PSM.
enum Service {
    Uuid(Uuid),
    Port(u16),
}

fn parse_service(s: &str) -> Result<Service, String> {
    if s.len() == 36 {
        return s
            .parse()
            .map(Service::Uuid)
            .map_err(|e| format!("not a UUID: {s}: {e}"));
    }
    parse_port(s).map(Service::Port)
}

/// `[--adapter ADDR] [--channel N | --psm N] [--uuid UUID] [--basic]`: echoes every
/// byte (or packet) back to each client until it closes. L2CAP asks for ERTM, or basic
/// mode with `--basic` (see [`l2cap_mode`]). With `--uuid` it listens on a free
/// channel or PSM of every adapter and publishes an SDP record for the UUID through
/// bluetoothd, as Qt's `listen(uuid, name)` does.
pub fn server(protocol: Protocol) -> ! {
    let mut adapter = BluetoothAddress::ANY;
    let mut uuid = None;
    let mut port = match protocol {
        Protocol::Rfcomm => DEFAULT_RFCOMM_CHANNEL,
        Protocol::L2cap => DEFAULT_L2CAP_PSM,
    };
    let mut basic = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--basic" && protocol == Protocol::L2cap {
            basic = true;
            continue;
        }
        let value = args
            .next()
            .unwrap_or_else(|| fail(format!("{a} needs a value")));
        match a.as_str() {
            "--adapter" => adapter = value.parse().unwrap_or_else(|e| fail(e)),
            "--uuid" => uuid = Some(value.parse::<Uuid>().unwrap_or_else(|e| fail(e))),
            f if f == port_flag(protocol) => port = parse_port(&value).unwrap_or_else(|e| fail(e)),
            _ => fail(format!("unknown flag {a}")),
        }
    }
    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let server = BluetoothServer::new(&h, protocol);
    if protocol == Protocol::L2cap {
        server.set_l2cap_mode(l2cap_mode(basic));
    }
    if let Some(uuid) = uuid {
        if !adapter.is_null() {
            fail("--uuid listens on every adapter (as Qt's listen(uuid) does): drop --adapter");
        }
        if let Err(e) = server.listen_uuid(uuid, "sigloop echo") {
            fail(format!("listen: {e}"));
        }
    } else if let Err(e) = server.listen(adapter, port) {
        fail(format!("listen: {e}"));
    }
    print!(
        "listening on {} {} {}",
        server.server_address(),
        port_word(protocol),
        server.server_port()
    );
    match uuid {
        Some(uuid) => println!(" uuid {uuid}"),
        None => println!(),
    }
    let clients: Rc<RefCell<Vec<BluetoothSocket>>> = Rc::default();
    let srv = server.clone();
    server.new_connection().connect(move |()| {
        while let Some(socket) = srv.next_pending_connection() {
            let s = socket.clone();
            socket.ready_read().connect(move |()| {
                while let Some(data) = s.read_packet() {
                    if s.write(&data).is_err() {
                        break;
                    }
                }
            });
            let list = clients.clone();
            socket.disconnected().connect(move |()| {
                list.borrow_mut().retain(|c| c.is_valid());
            });
            clients.borrow_mut().push(socket);
        }
    });
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}

/// `[--adapter ADDR] [--basic] SERVER_ADDR PORT|UUID`: copies stdin to the server and every echoed
/// byte to stdout; after stdin's end waits for the last echo, disconnects, exits 0. A
/// UUID is looked up in the server's SDP records first (`connect_to_service_uuid`).
/// L2CAP asks for ERTM, or basic mode with `--basic` (see [`l2cap_mode`]); a channel
/// that settled on basic mode though ERTM was asked for is said on stderr.
pub fn client(protocol: Protocol) -> ! {
    let mut adapter = BluetoothAddress::ANY;
    let mut positional = Vec::new();
    let mut basic = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--basic" && protocol == Protocol::L2cap {
            basic = true;
        } else if a == "--adapter" {
            let v = args
                .next()
                .unwrap_or_else(|| fail("--adapter needs a value"));
            adapter = v.parse().unwrap_or_else(|e| fail(e));
        } else {
            positional.push(a);
        }
    }
    let [server_addr, service] = positional.as_slice() else {
        fail(format!(
            "usage: [--adapter ADDR] SERVER_ADDR {}|UUID",
            port_word(protocol).to_uppercase()
        ));
    };
    let server_addr: BluetoothAddress = server_addr.parse().unwrap_or_else(|e| fail(e));
    let service = parse_service(service).unwrap_or_else(|e| fail(e));

    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let socket = BluetoothSocket::new(&h, protocol);
    socket.set_local_adapter(adapter);
    if protocol == Protocol::L2cap {
        socket.set_l2cap_mode(l2cap_mode(basic));
    }
    let sent = Rc::new(Cell::new(0usize));
    let echoed = Rc::new(Cell::new(0usize));
    let stdin_done = Rc::new(Cell::new(false));

    // Echoes to stdout; once stdin ended and everything came back, disconnect.
    let (s, e, sent2, done) = (
        socket.clone(),
        echoed.clone(),
        sent.clone(),
        stdin_done.clone(),
    );
    socket.ready_read().connect(move |()| {
        use std::io::Write;
        let data = s.read_all();
        e.set(e.get() + data.len());
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&data);
        let _ = out.flush();
        if done.get() && e.get() >= sent2.get() {
            s.disconnect_from_service();
        }
    });
    let h2 = h.clone();
    socket.disconnected().connect(move |()| h2.quit());
    let (h2, s) = (h.clone(), socket.clone());
    socket.error_occurred().connect(move |err| {
        if *err != sigloop::core::SocketError::RemoteHostClosed || s.is_valid() {
            eprintln!("error: {err}: {}", s.error_string());
            h2.exit(1);
        }
    });

    // stdin is read through the loop (a notifier on it), once connected: a terminal, a
    // pipe, a file or /dev/null.
    let notifier: Rc<RefCell<Option<Rc<SocketNotifier>>>> = Rc::default();
    let (s, n, h2) = (socket.clone(), notifier.clone(), h.clone());
    socket.connected().connect(move |()| {
        if s.l2cap_mode() == Some(L2capMode::Basic) && !basic {
            eprintln!("note: the server did not take ERTM: basic mode, without flow control");
        }
        let (s, sent, echoed, done) = (s.clone(), sent.clone(), echoed.clone(), stdin_done.clone());
        let chunk = s.max_write_chunk();
        let stdin = stdin::watch(&h2, chunk, move |input| match input {
            stdin::Input::Data(data) => {
                if s.write(data).is_ok() {
                    sent.set(sent.get() + data.len());
                }
            }
            stdin::Input::End => {
                done.set(true);
                if echoed.get() >= sent.get() {
                    s.disconnect_from_service();
                }
            }
        })
        .unwrap_or_else(|e| fail(format!("watching stdin: {e}")));
        *n.borrow_mut() = Some(stdin);
    });
    let started = match service {
        Service::Port(port) => socket.connect_to_service(server_addr, port),
        Service::Uuid(uuid) => socket.connect_to_service_uuid(server_addr, uuid),
    };
    if let Err(e) = started {
        fail(format!("connect: {e}"));
    }
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
