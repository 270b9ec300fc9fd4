//! Loopback TCP through sigloop sockets against plain `std::net` sockets and tokio, in
//! one run.
//!
//! Prints `<case> <value>`: bulk throughput (MiB/s, 256 MiB one way, acknowledged by the
//! receiver) and the round trip of a 64-byte message (µs, median of 20 000), each for
//! `raw` (blocking `std::net`, one thread per side), `tokio` (a current-thread runtime
//! per side, each on its own thread: the nearest async counterpart of a loop per side)
//! and `sigloop` (one event loop per side, on its own thread), then the ratios to raw.
//! The three alternate, each keeping its best of three.
//!
//! Run: `cargo bench --bench sockets`

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sigloop::core::{EventLoop, TcpServer, TcpSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BULK: usize = 256 << 20;
const MSG: usize = 64;
const ROUND_TRIPS: usize = 20_000;
const CHUNK: usize = 64 * 1024;

fn median_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

// ---- raw std::net ----

fn raw_server(mode: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; CHUNK];
        if mode == "sink" {
            let mut got = 0;
            while got < BULK {
                got += s.read(&mut buf).unwrap();
            }
            s.write_all(b"k").unwrap();
        } else {
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => s.write_all(&buf[..n]).unwrap(),
                }
            }
        }
    });
    addr
}

fn raw_throughput() -> f64 {
    let addr = raw_server("sink");
    let mut s = TcpStream::connect(addr).unwrap();
    let data = vec![7u8; CHUNK];
    let start = Instant::now();
    let mut sent = 0;
    while sent < BULK {
        s.write_all(&data).unwrap();
        sent += CHUNK;
    }
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).unwrap();
    BULK as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

fn raw_rtt() -> f64 {
    let addr = raw_server("echo");
    let mut s = TcpStream::connect(addr).unwrap();
    let msg = [1u8; MSG];
    let mut back = [0u8; MSG];
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        s.write_all(&msg).unwrap();
        s.read_exact(&mut back).unwrap();
        samples.push(t.elapsed());
    }
    median_us(samples)
}

// ---- tokio ----

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

/// A tokio server on its own thread and runtime, as `raw_server`.
fn tokio_server(mode: &'static str) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        tokio_runtime().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; CHUNK];
            if mode == "sink" {
                let mut got = 0;
                while got < BULK {
                    got += s.read(&mut buf).await.unwrap();
                }
                s.write_all(b"k").await.unwrap();
            } else {
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => s.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            }
        });
    });
    rx.recv().unwrap()
}

fn tokio_throughput() -> f64 {
    let addr = tokio_server("sink");
    tokio_runtime().block_on(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let data = vec![7u8; CHUNK];
        let start = Instant::now();
        let mut sent = 0;
        while sent < BULK {
            s.write_all(&data).await.unwrap();
            sent += CHUNK;
        }
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).await.unwrap();
        BULK as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
    })
}

fn tokio_rtt() -> f64 {
    let addr = tokio_server("echo");
    tokio_runtime().block_on(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let msg = [1u8; MSG];
        let mut back = [0u8; MSG];
        let mut samples = Vec::with_capacity(ROUND_TRIPS);
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            s.write_all(&msg).await.unwrap();
            s.read_exact(&mut back).await.unwrap();
            samples.push(t.elapsed());
        }
        median_us(samples)
    })
}

// ---- sigloop ----

/// A sigloop server on its own thread: "sink" counts BULK bytes then answers one byte;
/// "echo" writes back what it reads.
fn sigloop_server(mode: &'static str) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let el = EventLoop::new().unwrap();
        let h = el.handle();
        let server = TcpServer::new(&h);
        server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        tx.send(server.server_address().unwrap()).unwrap();
        let keep: Rc<RefCell<Vec<TcpSocket>>> = Rc::default();
        let (srv, k, h2) = (server.clone(), keep.clone(), h.clone());
        server.new_connection().connect(move |()| {
            while let Some(s) = srv.next_pending_connection() {
                let got = Rc::new(Cell::new(0usize));
                let s2 = s.clone();
                let mut buf = vec![0u8; CHUNK];
                s.ready_read().connect(move |()| {
                    if mode == "sink" {
                        loop {
                            let n = s2.read(&mut buf);
                            if n == 0 {
                                break;
                            }
                            got.set(got.get() + n);
                        }
                        if got.get() >= BULK {
                            s2.write(b"k").unwrap();
                        }
                    } else {
                        let data = s2.read_all();
                        s2.write(&data).unwrap();
                    }
                });
                let h3 = h2.clone();
                s.disconnected().connect(move |()| h3.quit());
                k.borrow_mut().push(s);
            }
        });
        el.run().unwrap();
    });
    rx.recv().unwrap()
}

fn sigloop_throughput() -> f64 {
    let addr = sigloop_server("sink");
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let s = TcpSocket::new(&h);
    s.connect_to_address(addr).unwrap();
    assert!(s.wait_for_connected(Duration::from_secs(10)));
    let data = vec![7u8; CHUNK];
    let sent = Rc::new(Cell::new(0usize));
    let (s2, snt) = (s.clone(), sent.clone());
    let top_up = move || {
        // Write while nothing is queued: such writes go straight to the kernel, and only
        // what it does not take is copied into the socket's queue.
        while s2.bytes_to_write() == 0 && snt.get() < BULK {
            s2.write(&data).unwrap();
            snt.set(snt.get() + CHUNK);
        }
    };
    let start = Instant::now();
    top_up();
    s.bytes_written().connect(move |_| top_up());
    let h2 = h.clone();
    s.ready_read().connect(move |()| h2.quit());
    el.run().unwrap();
    let rate = BULK as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64();
    s.disconnect_from_host();
    s.wait_for_disconnected(Duration::from_secs(10));
    rate
}

fn sigloop_rtt() -> f64 {
    let addr = sigloop_server("echo");
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let s = TcpSocket::new(&h);
    s.connect_to_address(addr).unwrap();
    assert!(s.wait_for_connected(Duration::from_secs(10)));
    let samples = Rc::new(RefCell::new(Vec::with_capacity(ROUND_TRIPS)));
    let started = Rc::new(Cell::new(Instant::now()));
    let (s2, smp, st, h2) = (s.clone(), samples.clone(), started.clone(), h.clone());
    let msg = [1u8; MSG];
    let mut back = [0u8; MSG];
    s.ready_read().connect(move |()| {
        while s2.bytes_available() >= MSG {
            s2.read(&mut back);
            smp.borrow_mut().push(st.get().elapsed());
            if smp.borrow().len() == ROUND_TRIPS {
                h2.quit();
                return;
            }
            st.set(Instant::now());
            s2.write(&msg).unwrap();
        }
    });
    started.set(Instant::now());
    s.write(&msg).unwrap();
    el.run().unwrap();
    s.disconnect_from_host();
    s.wait_for_disconnected(Duration::from_secs(10));
    let samples = samples.take();
    median_us(samples)
}

fn main() {
    // Alternate, and keep each side's best of three.
    let (mut raw_tp, mut tok_tp, mut sig_tp) = (0f64, 0f64, 0f64);
    let (mut raw_rt, mut tok_rt, mut sig_rt) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..3 {
        raw_tp = raw_tp.max(raw_throughput());
        tok_tp = tok_tp.max(tokio_throughput());
        sig_tp = sig_tp.max(sigloop_throughput());
        raw_rt = raw_rt.min(raw_rtt());
        tok_rt = tok_rt.min(tokio_rtt());
        sig_rt = sig_rt.min(sigloop_rtt());
    }
    println!("tcp_throughput_raw_mib_s {raw_tp:.0}");
    println!("tcp_throughput_tokio_mib_s {tok_tp:.0}");
    println!("tcp_throughput_sigloop_mib_s {sig_tp:.0}");
    println!("tcp_rtt_raw_us {raw_rt:.2}");
    println!("tcp_rtt_tokio_us {tok_rt:.2}");
    println!("tcp_rtt_sigloop_us {sig_rt:.2}");
    println!("ratio_throughput_tokio_over_raw {:.3}", tok_tp / raw_tp);
    println!("ratio_throughput_sigloop_over_raw {:.3}", sig_tp / raw_tp);
    println!("ratio_rtt_tokio_over_raw {:.3}", tok_rt / raw_rt);
    println!("ratio_rtt_sigloop_over_raw {:.3}", sig_rt / raw_rt);
    println!("ratio_rtt_sigloop_over_tokio {:.3}", sig_rt / tok_rt);
}
