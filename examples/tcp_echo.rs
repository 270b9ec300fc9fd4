//! A TCP echo server and client on sigloop sockets, in one file.
//!
//! ```text
//! cargo run --example tcp_echo                       # both, in one process: a demo
//! cargo run --example tcp_echo -- --server 127.0.0.1:7777
//! cargo run --example tcp_echo -- --client 127.0.0.1:7777 hello world
//! cargo run --example tcp_echo -- --client 127.0.0.1:7777 < file
//! ```
//!
//! With no words, the client copies its stdin to the server and every echoed byte to
//! stdout, as the Bluetooth echo clients do (the same stdin reader, `examples/stdin`:
//! a terminal, a pipe, a file or `/dev/null`), and ends after stdin's end once everything
//! came back. `scripts/test` runs it so, with each kind of stdin.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use sigloop::core::{EventLoop, LoopHandle, SocketNotifier, TcpServer, TcpSocket};

#[path = "stdin/mod.rs"]
mod stdin;

/// Echoes every byte back to whoever sent it; announces joins and leaves.
fn serve(h: &LoopHandle, addr: SocketAddr) -> Result<TcpServer, Box<dyn std::error::Error>> {
    let server = TcpServer::new(h);
    server.listen(addr)?;
    println!("server: listening on {}", server.server_address().unwrap());
    let clients: Rc<RefCell<Vec<TcpSocket>>> = Rc::default();
    let srv = server.clone();
    server.new_connection().connect(move |()| {
        while let Some(socket) = srv.next_pending_connection() {
            let peer = socket.peer_address().unwrap();
            println!("server: {peer} joined");
            let s = socket.clone();
            socket.ready_read().connect(move |()| {
                let data = s.read_all();
                s.write(&data).expect("connected");
            });
            let list = clients.clone();
            socket.disconnected().connect(move |()| {
                println!("server: {peer} left");
                // Let go of closed connections (this one among them).
                list.borrow_mut().retain(|c| c.is_valid());
            });
            clients.borrow_mut().push(socket);
        }
    });
    Ok(server)
}

/// Sends each line, prints each echo, and exits the loop when all came back.
fn client(h: &LoopHandle, addr: SocketAddr, lines: Vec<String>) -> TcpSocket {
    let socket = TcpSocket::new(h);
    let expected: usize = lines.iter().map(|l| l.len() + 1).sum();
    let s = socket.clone();
    socket.connected().connect(move |()| {
        println!("client: connected to {}", s.peer_address().unwrap());
        for line in &lines {
            s.write(format!("{line}\n").as_bytes()).expect("connected");
        }
    });
    let (s, received) = (socket.clone(), Rc::new(RefCell::new(0usize)));
    socket.ready_read().connect(move |()| {
        while let Some(line) = s.read_line() {
            *received.borrow_mut() += line.len();
            print!("client: echo {}", String::from_utf8_lossy(&line));
        }
        if *received.borrow() >= expected {
            s.disconnect_from_host();
        }
    });
    let h2 = h.clone();
    socket.disconnected().connect(move |()| h2.quit());
    let h2 = h.clone();
    socket.error_occurred().connect(move |e| {
        eprintln!("client: {e}");
        h2.exit(1);
    });
    socket.connect_to_address(addr).expect("connect");
    socket
}

/// Copies stdin to the server and every echoed byte to stdout; once stdin ended and
/// everything came back, disconnects (and the loop quits).
fn stdin_client(h: &LoopHandle, addr: SocketAddr) -> TcpSocket {
    let socket = TcpSocket::new(h);
    let (sent, echoed, stdin_done) = (
        Rc::new(Cell::new(0usize)),
        Rc::new(Cell::new(0usize)),
        Rc::new(Cell::new(false)),
    );
    let (s, e, sent2, done) = (
        socket.clone(),
        echoed.clone(),
        sent.clone(),
        stdin_done.clone(),
    );
    socket.ready_read().connect(move |()| {
        let data = s.read_all();
        e.set(e.get() + data.len());
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&data);
        let _ = out.flush();
        if done.get() && e.get() >= sent2.get() {
            s.disconnect_from_host();
        }
    });
    let notifier: Rc<RefCell<Option<Rc<SocketNotifier>>>> = Rc::default();
    let (s, h2) = (socket.clone(), h.clone());
    socket.connected().connect(move |()| {
        let (s, sent, echoed, done) = (s.clone(), sent.clone(), echoed.clone(), stdin_done.clone());
        let reader = stdin::watch(&h2, 64 * 1024, move |input| match input {
            stdin::Input::Data(data) => {
                s.write(data).expect("connected");
                sent.set(sent.get() + data.len());
            }
            stdin::Input::End => {
                done.set(true);
                if echoed.get() >= sent.get() {
                    s.disconnect_from_host();
                }
            }
        });
        match reader {
            Ok(reader) => *notifier.borrow_mut() = Some(reader),
            Err(e) => {
                eprintln!("client: watching stdin: {e}");
                h2.exit(1);
            }
        }
    });
    let h2 = h.clone();
    socket.disconnected().connect(move |()| h2.quit());
    let h2 = h.clone();
    socket.error_occurred().connect(move |e| {
        eprintln!("client: {e}");
        h2.exit(1);
    });
    socket.connect_to_address(addr).expect("connect");
    socket
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let event_loop = EventLoop::new()?;
    let h = event_loop.handle();
    let code = match args.first().map(String::as_str) {
        Some("--server") => {
            let addr = args
                .get(1)
                .map_or("127.0.0.1:7777", String::as_str)
                .parse()?;
            let _server = serve(&h, addr)?;
            event_loop.run()?
        }
        Some("--client") => {
            let addr = args.get(1).ok_or("--client needs ADDR")?.parse()?;
            let lines = args[2..].to_vec();
            let _client = if lines.is_empty() {
                stdin_client(&h, addr)
            } else {
                client(&h, addr, lines)
            };
            event_loop.run()?
        }
        None => {
            let server = serve(&h, "127.0.0.1:0".parse()?)?;
            let lines = vec!["hello".to_string(), "signals and slots".to_string()];
            let _client = client(&h, server.server_address().unwrap(), lines);
            // Let the server print the leave before exiting.
            let code = event_loop.run()?;
            event_loop.process_events(Duration::from_millis(50))?;
            code
        }
        Some(other) => return Err(format!("unknown flag {other}; see the file's header").into()),
    };
    std::process::exit(code);
}
