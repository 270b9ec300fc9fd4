//! Qt's btchat, rebuilt: an RFCOMM chat service found by UUID.
//!
//! ```text
//! chat --server [--name NAME] [--signals] [--until-empty]
//! chat --connect ADDR [--adapter ADDR] [--name NAME] [--signals]
//! ```
//!
//! The server listens on a free channel of every adapter and publishes an SDP record for
//! the chat's UUID (`listen_uuid`); clients find the channel by that UUID
//! (`connect_to_service_uuid`, our own SDP query) and join. Every line typed (stdin, read
//! through the event loop with a `SocketNotifier`, not a thread; a terminal, a pipe, a
//! file or `/dev/null`: `examples/stdin`) goes to everyone else as `NAME: line`; the server
//! announces joins and leaves. `--signals` also prints the sockets' signals as they fire
//! (`~ ...`); `--until-empty` ends the server when its last client leaves. A client ends
//! when the server goes away or its stdin ends, once what it read is sent.
//!
//! Run two terminals on a machine with Bluetooth, or `scripts/chat-demo` for a scripted
//! chat on the test bed.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;

use sigloop::bluetooth::uuids::Uuid;
use sigloop::bluetooth::{BluetoothAddress, BluetoothServer, BluetoothSocket, Protocol};
use sigloop::core::{EventLoop, SocketError, SocketNotifier};

#[path = "stdin/mod.rs"]
mod stdin;

/// The service UUID Qt's btchat example uses.
const CHAT_UUID: Uuid = Uuid::from_u128(0xe8e10f95_1a70_4b27_9ccf_02010264e9c8);

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Options {
    server: bool,
    connect: Option<BluetoothAddress>,
    adapter: BluetoothAddress,
    name: String,
    signals: bool,
    until_empty: bool,
}

fn options() -> Options {
    let mut o = Options {
        server: false,
        connect: None,
        adapter: BluetoothAddress::ANY,
        name: String::new(),
        signals: false,
        until_empty: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--server" => o.server = true,
            "--connect" => o.connect = Some(value().parse().unwrap_or_else(|e| fail(e))),
            "--adapter" => o.adapter = value().parse().unwrap_or_else(|e| fail(e)),
            "--name" => o.name = value(),
            "--signals" => o.signals = true,
            "--until-empty" => o.until_empty = true,
            _ => fail(format!("unknown argument {a}")),
        }
    }
    if o.server == o.connect.is_some() {
        fail("usage: chat --server [--name NAME] [--signals] [--until-empty] | chat --connect ADDR [--adapter ADDR] [--name NAME] [--signals]");
    }
    if o.name.is_empty() {
        o.name = if o.server { "server" } else { "client" }.to_string();
    }
    o
}

/// Prints a socket's signals as they fire, tagged with `who`.
fn trace(socket: &BluetoothSocket, who: &str) {
    let w = who.to_string();
    socket
        .state_changed()
        .connect(move |s| say(&format!("  ~ {w}: state_changed({s:?})")));
    let w = who.to_string();
    socket
        .connected()
        .connect(move |()| say(&format!("  ~ {w}: connected")));
    let w = who.to_string();
    socket
        .disconnected()
        .connect(move |()| say(&format!("  ~ {w}: disconnected")));
    let w = who.to_string();
    socket
        .error_occurred()
        .connect(move |e| say(&format!("  ~ {w}: error_occurred({e:?})")));
    let (w, s) = (who.to_string(), socket.clone());
    socket.ready_read().connect(move |()| {
        say(&format!(
            "  ~ {w}: ready_read ({} bytes)",
            s.bytes_available()
        ))
    });
}

fn server(o: Options) {
    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    let info = server
        .listen_uuid(CHAT_UUID, "Bt Chat Server")
        .unwrap_or_else(|e| fail(e));
    say(&format!(
        "chat server on channel {} (uuid {CHAT_UUID})",
        info.server_channel().unwrap_or(0)
    ));
    // Clients by a number of their own.
    let clients: Rc<RefCell<Vec<(u64, BluetoothSocket)>>> = Rc::default();
    let served = Rc::new(Cell::new(false));
    let next_id = Cell::new(0u64);

    // Sends `line` to every client but `except`. The list is copied first: a write may
    // fail and run slots, which must not find the list borrowed.
    let broadcast = {
        let clients = clients.clone();
        move |line: &str, except: Option<u64>| {
            let data = format!("{line}\n");
            let all: Vec<(u64, BluetoothSocket)> = clients.borrow().clone();
            for (id, c) in all {
                if except != Some(id) {
                    let _ = c.write(data.as_bytes());
                }
            }
        }
    };
    let broadcast = Rc::new(broadcast);

    let (srv, c, b, signals) = (
        server.clone(),
        clients.clone(),
        broadcast.clone(),
        o.signals,
    );
    let (h2, served2, until_empty) = (h.clone(), served.clone(), o.until_empty);
    server.new_connection().connect(move |()| {
        while let Some(socket) = srv.next_pending_connection() {
            let id = next_id.get();
            next_id.set(id + 1);
            // The peer's name comes from bluetoothd (Qt's peerName does the same).
            let who = match socket.peer_name() {
                name if name.is_empty() => socket.peer_address().to_string(),
                name => format!("{name} ({})", socket.peer_address()),
            };
            if signals {
                trace(&socket, &format!("server<-{who}"));
            }
            let note = format!("* {who} joined");
            say(&note);
            b(&note, Some(id));
            served2.set(true);
            let (s, b2) = (socket.clone(), b.clone());
            socket.ready_read().connect(move |()| {
                while let Some(line) = s.read_line() {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    say(&text);
                    b2(&text, Some(id));
                }
            });
            let (c2, b2, h3, served3) = (c.clone(), b.clone(), h2.clone(), served2.clone());
            let w = who.clone();
            socket.disconnected().connect(move |()| {
                c2.borrow_mut().retain(|(x, _)| *x != id);
                let note = format!("* {w} left");
                say(&note);
                b2(&note, None);
                if until_empty && served3.get() && c2.borrow().is_empty() {
                    h3.quit();
                }
            });
            c.borrow_mut().push((id, socket));
        }
    });

    // The server keeps serving after its stdin ends (`< /dev/null`, say).
    let (b, name) = (broadcast.clone(), o.name.clone());
    let _stdin = stdin::watch_lines(
        &h,
        move |line| {
            let text = format!("{name}: {line}");
            say(&text);
            b(&text, None);
        },
        || {},
    )
    .unwrap_or_else(|e| fail(format!("watching stdin: {e}")));
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}

fn client(o: Options, address: BluetoothAddress) {
    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let socket = BluetoothSocket::new(&h, Protocol::Rfcomm);
    socket.set_local_adapter(o.adapter);
    if o.signals {
        trace(&socket, &o.name);
    }
    let s = socket.clone();
    socket.ready_read().connect(move |()| {
        while let Some(line) = s.read_line() {
            say(String::from_utf8_lossy(&line).trim_end());
        }
    });
    let h2 = h.clone();
    socket.disconnected().connect(move |()| h2.quit());
    let (h2, s) = (h.clone(), socket.clone());
    socket.error_occurred().connect(move |e| {
        if *e != SocketError::RemoteHostClosed {
            eprintln!("error: {e}: {}", s.error_string());
            h2.exit(1);
        }
    });
    let keep: Rc<RefCell<Option<Rc<SocketNotifier>>>> = Rc::default();
    let (s, h2, name) = (socket.clone(), h.clone(), o.name.clone());
    socket.connected().connect(move |()| {
        say(&format!(
            "joined the chat on {} channel {}",
            s.peer_address(),
            s.peer_port()
        ));
        let (s1, s2, name) = (s.clone(), s.clone(), name.clone());
        let notifier = stdin::watch_lines(
            &h2,
            move |line| {
                let _ = s1.write(format!("{name}: {line}\n").as_bytes());
            },
            // Leave once everything typed is sent: a graceful close.
            move || s2.disconnect_from_service(),
        )
        .unwrap_or_else(|e| fail(format!("watching stdin: {e}")));
        *keep.borrow_mut() = Some(notifier);
    });
    socket
        .connect_to_service_uuid(address, CHAT_UUID)
        .unwrap_or_else(|e| fail(format!("connect: {e}")));
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}

fn main() {
    let o = options();
    match o.connect {
        Some(address) => client(o, address),
        None => server(o),
    }
}
