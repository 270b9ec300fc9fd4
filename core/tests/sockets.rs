//! The `AbstractSocket` machinery on TCP (loopback), Unix stream and Unix SEQPACKET
//! sockets: every scenario runs on each transport.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_core::{AbstractSocket, EventLoop, SignalSpy, SocketError, SocketKind, SocketState};
use sigloop_testbed::{checksum, pattern, record};
use util::{pair, Transport, LONG};

/// Sends `data` as packets of at most 60 000 bytes on packet sockets, in one write on
/// stream sockets.
fn send(s: &AbstractSocket, data: &[u8]) {
    match s.socket_kind() {
        SocketKind::Stream => assert_eq!(s.write(data), Ok(data.len())),
        SocketKind::Packet => {
            for chunk in data.chunks(60_000) {
                assert_eq!(s.write(chunk), Ok(chunk.len()));
            }
        }
    }
}

/// Collects everything `s` receives into a shared buffer.
fn collect(s: &AbstractSocket) -> Rc<RefCell<Vec<u8>>> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, s2) = (got.clone(), s.downgrade());
    s.ready_read().connect(move |()| {
        if let Some(s) = s2.upgrade() {
            g.borrow_mut().extend(s.read_all());
        }
    });
    got
}

fn echo_roundtrip(t: Transport) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    let s2 = server.clone();
    server.ready_read().connect(move |()| {
        while let Some(p) = s2.read_packet() {
            s2.write(&p).unwrap();
        }
    });
    let got = collect(&client);
    client.write(b"hello, echo").unwrap();
    let g = got.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || g.borrow().len() >= 11)
        .unwrap());
    assert_eq!(&*got.borrow(), b"hello, echo");
}

fn eight_mib_both_ways(t: Transport) {
    const SIZE: usize = 8 << 20;
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    let (up, down) = (pattern(SIZE, 1), pattern(SIZE, 2));
    let at_server = collect(&server);
    let at_client = collect(&client);
    let written = Rc::new(Cell::new(0usize));
    let w = written.clone();
    client.bytes_written().connect(move |n| w.set(w.get() + n));
    send(&client, &up);
    send(&server, &down);
    let (a, b) = (at_server.clone(), at_client.clone());
    assert!(h
        .wait_until(Instant::now() + Duration::from_secs(120), || {
            a.borrow().len() >= SIZE && b.borrow().len() >= SIZE
        })
        .unwrap());
    assert_eq!(checksum(&at_server.borrow()), checksum(&up));
    assert_eq!(checksum(&at_client.borrow()), checksum(&down));
    let w = written.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || w.get() == SIZE)
        .unwrap());
    assert_eq!(client.bytes_to_write(), 0);
}

fn graceful_close_delivers_pending_bytes(t: Transport) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    let log = record(&client);
    // Write until 1 MiB waits in our own queue, whatever the kernel buffers took.
    let mut data = Vec::new();
    let mut seed = 0;
    while client.bytes_to_write() < (1 << 20) {
        let piece = pattern(60_000, seed);
        seed += 1;
        send(&client, &piece);
        data.extend_from_slice(&piece);
    }
    let size = data.len();
    client.disconnect_from_host();
    assert!(client.bytes_to_write() >= 1 << 20);
    assert_eq!(client.state(), SocketState::Closing);
    let got = collect(&server);
    let server_gone = SignalSpy::new(server.disconnected());
    assert!(client.wait_for_disconnected(LONG));
    assert!(server_gone.wait_for_count(&h, 1, LONG).unwrap());
    assert_eq!(got.borrow().len(), size);
    assert_eq!(checksum(&got.borrow()), checksum(&data));
    assert_eq!(
        *log.borrow(),
        ["state:Closing", "state:Unconnected", "disconnected"]
    );
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(server_gone.count(), 1, "disconnected exactly once");
}

fn abort_discards_and_disconnects_once(t: Transport) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    let log = record(&client);
    send(&client, &pattern(1 << 20, 4));
    client.abort();
    assert_eq!(client.state(), SocketState::Unconnected);
    assert_eq!(client.bytes_to_write(), 0);
    assert_eq!(client.socket_descriptor(), None);
    client.abort();
    client.disconnect_from_host();
    assert_eq!(*log.borrow(), ["state:Unconnected", "disconnected"]);
    // The peer learns of it.
    let _drain = collect(&server);
    assert!(server.wait_for_disconnected(LONG));
}

fn peer_close_mid_transfer_keeps_every_byte(t: Transport) {
    const SIZE: usize = 1 << 20;
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    let log = record(&client);
    let data = pattern(SIZE, 5);
    send(&server, &data);
    server.disconnect_from_host();
    // The client reads nothing until the connection is over.
    assert!(client.wait_for_disconnected(LONG));
    assert_eq!(
        client.bytes_available(),
        SIZE,
        "bytes stay readable after disconnected"
    );
    assert_eq!(checksum(&client.read_all()), checksum(&data));
    assert_eq!(
        *log.borrow(),
        [
            "read_channel_finished",
            "error:RemoteHostClosed",
            "state:Unconnected",
            "disconnected"
        ]
    );
    assert_eq!(client.error(), Some(SocketError::RemoteHostClosed));
}

fn slow_reader_back_pressures_the_peer(t: Transport) {
    const SIZE: usize = 64 << 20;
    const LIMIT: usize = 64 * 1024;
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (reader, writer, _keep) = pair(&h, t);
    reader.set_read_buffer_size(LIMIT);
    assert_eq!(reader.read_buffer_size(), LIMIT);
    // The writer side tops its queue up to 1 MiB as it drains: 64 MiB in all.
    let sent = Rc::new(Cell::new(0usize));
    let (s, w) = (sent.clone(), writer.clone());
    let top_up = move || {
        while w.bytes_to_write() < (1 << 20) && s.get() < SIZE {
            let n = 60_000.min(SIZE - s.get());
            w.write(&pattern(n, (s.get() / 60_000) as u32)).unwrap();
            s.set(s.get() + n);
        }
    };
    top_up();
    writer.bytes_written().connect(move |_| top_up());
    // The reader takes at most 256 KiB per 1 ms tick; it never looks at ready_read.
    let received = Rc::new(Cell::new(0usize));
    let max_buffered = Rc::new(Cell::new(0usize));
    let digest = Rc::new(Cell::new(0u64));
    let timer = sigloop_core::Timer::new(&h);
    let (r, rec, mx, dg) = (
        reader.clone(),
        received.clone(),
        max_buffered.clone(),
        digest.clone(),
    );
    let mut buf = vec![0u8; 256 * 1024];
    timer.timeout().connect(move |()| {
        mx.set(mx.get().max(r.bytes_available()));
        let n = r.read(&mut buf);
        // An order-sensitive digest of the stream, chunking-independent enough to catch
        // lost or duplicated pieces together with the total.
        for &b in &buf[..n] {
            dg.set(dg.get().rotate_left(5) ^ u64::from(b));
        }
        rec.set(rec.get() + n);
    });
    timer.start(Duration::from_millis(1));
    let rec = received.clone();
    assert!(h
        .wait_until(Instant::now() + Duration::from_secs(300), || rec.get()
            >= SIZE)
        .unwrap());
    assert_eq!(received.get(), SIZE);
    // Packets are taken whole: a packet socket may pass the limit by less than one.
    let bound = match reader.socket_kind() {
        SocketKind::Stream => LIMIT,
        SocketKind::Packet => LIMIT + 60_000,
    };
    assert!(
        max_buffered.get() <= bound,
        "read buffer held {} bytes, limit {LIMIT}",
        max_buffered.get()
    );
    let mut expect = 0u64;
    let mut sent_so_far = 0;
    while sent_so_far < SIZE {
        let n = 60_000.min(SIZE - sent_so_far);
        for b in pattern(n, (sent_so_far / 60_000) as u32) {
            expect = expect.rotate_left(5) ^ u64::from(b);
        }
        sent_so_far += n;
    }
    assert_eq!(digest.get(), expect);
}

fn signal_order_on_connect(t: Transport) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    // Record from the start: connect by hand rather than through `pair`.
    let (client, _server, _keep) = pair(&h, t);
    client.disconnect_from_host();
    assert!(client.wait_for_disconnected(LONG));
    let log = record(&client);
    match t {
        Transport::Tcp => {
            let tcp = sigloop_core::TcpSocket::new(&h);
            let log = record(&tcp);
            let server = sigloop_core::TcpServer::new(&h);
            server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
            tcp.connect_to_address(server.server_address().unwrap())
                .unwrap();
            assert!(tcp.wait_for_connected(LONG));
            assert_eq!(
                *log.borrow(),
                ["state:Connecting", "state:Connected", "connected"]
            );
        }
        Transport::UnixStream | Transport::UnixPacket => {
            let kind = match t {
                Transport::UnixPacket => SocketKind::Packet,
                _ => SocketKind::Stream,
            };
            let server = sigloop_core::UnixServer::new(&h, kind);
            let path = util::socket_path();
            server.listen(&path).unwrap();
            let unix = sigloop_core::UnixSocket::new(&h, kind);
            let log = record(&unix);
            unix.connect_to_server(&path).unwrap();
            assert!(unix.wait_for_connected(LONG));
            assert_eq!(
                *log.borrow(),
                ["state:Connecting", "state:Connected", "connected"]
            );
            server.close();
        }
    }
    assert!(log.borrow().is_empty(), "an unconnected socket stays quiet");
}

fn write_while_unconnected_is_refused(t: Transport) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, _server, _keep) = pair(&h, t);
    client.abort();
    let log = record(&client);
    assert_eq!(client.write(b"late"), Err(SocketError::Operation));
    assert_eq!(client.bytes_to_write(), 0);
    assert_eq!(client.state(), SocketState::Unconnected);
    assert!(log.borrow().is_empty());
    assert_eq!(client.flush(), Err(SocketError::Operation));
    // Through the io adapter: an io::Error of the matching kind that carries the
    // socket's error; a flush of nothing open has nothing to do.
    let io_err = std::io::Write::write(&mut client.io(), b"x").unwrap_err();
    assert_eq!(io_err.kind(), std::io::ErrorKind::NotConnected);
    assert_eq!(
        io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<SocketError>()),
        Some(&SocketError::Operation)
    );
    assert!(std::io::Write::flush(&mut client.io()).is_ok());
}

fn blocking_helpers_and_io_traits(t: Transport) {
    use std::io::{Read, Write};
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = pair(&h, t);
    client.io().write_all(b"line one\nline two\n").unwrap();
    // Everything went to the kernel at once: nothing left to flush.
    assert_eq!(client.flush(), Ok(false));
    // Reported on a later iteration, never from inside `write`.
    assert!(client.wait_for_bytes_written(LONG));
    assert!(server.bytes_available() > 0 || server.wait_for_ready_read(LONG));
    let s = server.clone();
    h.wait_until(Instant::now() + LONG, || s.bytes_available() >= 18)
        .unwrap();
    if server.socket_kind() == SocketKind::Stream {
        assert!(server.can_read_line());
        let mut peek = [0u8; 4];
        assert_eq!(server.peek(&mut peek), 4);
        assert_eq!(&peek, b"line");
        assert_eq!(server.read_line().unwrap(), b"line one\n");
        assert_eq!(server.read_line().unwrap(), b"line two\n");
        assert_eq!(server.read_line(), None);
    } else {
        assert_eq!(server.pending_packets(), 1);
        assert_eq!(server.read_packet().unwrap(), b"line one\nline two\n");
    }
    let mut buf = [0u8; 8];
    let err = Read::read(&mut server.io(), &mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert!(!server.wait_for_ready_read(Duration::from_millis(30)));
}

macro_rules! on_every_transport {
    ($($scenario:ident),* $(,)?) => {
        mod tcp {
            $(#[test] fn $scenario() { super::$scenario(super::Transport::Tcp) })*
        }
        mod unix_stream {
            $(#[test] fn $scenario() { super::$scenario(super::Transport::UnixStream) })*
        }
        mod unix_packet {
            $(#[test] fn $scenario() { super::$scenario(super::Transport::UnixPacket) })*
        }
    };
}

on_every_transport!(
    echo_roundtrip,
    eight_mib_both_ways,
    graceful_close_delivers_pending_bytes,
    abort_discards_and_disconnects_once,
    peer_close_mid_transfer_keeps_every_byte,
    slow_reader_back_pressures_the_peer,
    signal_order_on_connect,
    write_while_unconnected_is_refused,
    blocking_helpers_and_io_traits,
);
