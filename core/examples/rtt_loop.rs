//! `rtt_loop raw|sigloop|packet N`: N 64-byte TCP round trips over loopback, through
//! plain blocking sockets or through sigloop on both ends (an echo server on its own loop
//! thread), or (`packet`) N one-packet round trips over a Unix `SOCK_SEQPACKET` pair with
//! both ends on one sigloop loop, for counting the instructions a round trip costs with
//! valgrind:
//! `valgrind --tool=callgrind target/release/examples/rtt_loop sigloop 20000`, minus the
//! same with N = 0, divided by N.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use sigloop_core::{EventLoop, SocketKind, TcpServer, TcpSocket, UnixSocket};

const MSG: usize = 64;

fn raw(n: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_nodelay(true).unwrap();
        let mut buf = [0u8; MSG];
        while c.read_exact(&mut buf).is_ok() {
            c.write_all(&buf).unwrap();
        }
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut back = [0u8; MSG];
    for _ in 0..n {
        s.write_all(&[1u8; MSG]).unwrap();
        s.read_exact(&mut back).unwrap();
    }
}

fn sigloop_echo_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let el = EventLoop::new().unwrap();
        let h = el.handle();
        let server = TcpServer::new(&h);
        server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        tx.send(server.server_address().unwrap()).unwrap();
        let srv = server.clone();
        let h2 = h.clone();
        server.new_connection().connect(move |()| {
            while let Some(s) = srv.next_pending_connection() {
                let s2 = s.clone();
                let mut buf = [0u8; MSG];
                s.ready_read().connect(move |()| loop {
                    let n = s2.read(&mut buf);
                    if n == 0 {
                        break;
                    }
                    s2.write(&buf[..n]).unwrap();
                });
                let h3 = h2.clone();
                s.disconnected().connect(move |()| h3.quit());
                std::mem::forget(s);
            }
        });
        el.run().unwrap();
    });
    rx.recv().unwrap()
}

fn sigloop(n: usize) {
    let addr = sigloop_echo_server();
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let s = TcpSocket::new(&h);
    s.connect_to_address(addr).unwrap();
    assert!(s.wait_for_connected(Duration::from_secs(10)));
    let done = Rc::new(Cell::new(0usize));
    let (s2, d, h2) = (s.clone(), done.clone(), h.clone());
    let mut back = [0u8; MSG];
    s.ready_read().connect(move |()| {
        while s2.bytes_available() >= MSG {
            s2.read(&mut back);
            d.set(d.get() + 1);
            if d.get() >= n {
                h2.quit();
                return;
            }
            s2.write(&[1u8; MSG]).unwrap();
        }
    });
    if n > 0 {
        s.write(&[1u8; MSG]).unwrap();
        el.run().unwrap();
    }
    s.disconnect_from_host();
    s.wait_for_disconnected(Duration::from_secs(10));
}

/// Round trips of one packet over a Unix `SOCK_SEQPACKET` pair, both ends on one loop.
fn packet(n: usize) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, b) = UnixSocket::pair(&h, SocketKind::Packet).unwrap();
    let b2 = b.clone();
    b.ready_read().connect(move |()| {
        while let Some(p) = b2.read_packet() {
            b2.write(&p).unwrap();
        }
    });
    let done = Rc::new(Cell::new(0usize));
    let (a2, d, h2) = (a.clone(), done.clone(), h.clone());
    a.ready_read().connect(move |()| {
        while a2.read_packet().is_some() {
            d.set(d.get() + 1);
            if d.get() >= n {
                h2.quit();
                return;
            }
            a2.write(&[1u8; MSG]).unwrap();
        }
    });
    if n > 0 {
        a.write(&[1u8; MSG]).unwrap();
        el.run().unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, n] = args.as_slice() else {
        eprintln!("usage: rtt_loop raw|sigloop|packet N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    match mode.as_str() {
        "raw" => raw(n),
        "sigloop" => sigloop(n),
        "packet" => packet(n),
        other => {
            eprintln!("rtt_loop: unknown mode {other}");
            std::process::exit(2);
        }
    }
}
