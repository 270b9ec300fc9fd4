//! Smoke tests on the BlueZ test bed (`testbed/`): plain kernel sockets, hci1 → hci0,
//! data both ways. Marked `#[ignore]`: on the host they are reported as not run;
//! `scripts/test-bluetooth` runs them inside the test bed's guest with `--ignored`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::net::sockopt::{set_socket_timeout, Timeout};

use sigloop_bluetooth::{raw, Protocol};
use sigloop_testbed::Testbed;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn timeouts(fd: &OwnedFd) -> io::Result<()> {
    set_socket_timeout(fd, Timeout::Recv, Some(IO_TIMEOUT))?;
    set_socket_timeout(fd, Timeout::Send, Some(IO_TIMEOUT))?;
    Ok(())
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) {
    while !data.is_empty() {
        let n = rustix::io::write(fd, data).expect("write");
        data = &data[n..];
    }
}

fn read_exact(fd: &OwnedFd, out: &mut [u8]) {
    let mut got = 0;
    while got < out.len() {
        let n = rustix::io::read(fd, &mut out[got..]).expect("read");
        assert!(n > 0, "peer closed after {got} of {} bytes", out.len());
        got += n;
    }
}

/// A listening socket on hci0 plus a client socket bound to hci1 and connected to it;
/// returns (server side of the connection, client).
fn connect_pair(bed: &Testbed, protocol: Protocol, port: u16) -> (OwnedFd, OwnedFd) {
    let (addr0, addr1) = (bed.address(0), bed.address(1));
    let listener = raw::socket(protocol, false).expect("socket");
    raw::bind(listener.as_fd(), protocol, addr0, port).expect("bind server");
    rustix::net::listen(&listener, 1).expect("listen");
    timeouts(&listener).expect("timeouts");
    assert_eq!(
        raw::local_name(listener.as_fd(), protocol).unwrap(),
        (addr0, port)
    );

    let client = raw::socket(protocol, false).expect("socket");
    raw::bind(client.as_fd(), protocol, addr1, 0).expect("bind client to hci1");
    timeouts(&client).expect("timeouts");
    raw::connect(client.as_fd(), protocol, addr0, port).expect("connect");
    assert_eq!(
        raw::peer_name(client.as_fd(), protocol).unwrap(),
        (addr0, port)
    );
    assert_eq!(raw::local_name(client.as_fd(), protocol).unwrap().0, addr1);

    let conn = rustix::net::accept(&listener).expect("accept");
    assert_eq!(raw::peer_name(conn.as_fd(), protocol).unwrap().0, addr1);
    timeouts(&conn).expect("timeouts");
    (conn, client)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn testbed_rfcomm_raw_both_ways() {
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let (server, client) = connect_pair(&bed, Protocol::Rfcomm, 11);
    // 16 KiB each way, written in 1 KiB pieces (large single writes stall on RFCOMM).
    let up = pattern(16 * 1024, 1);
    let down = pattern(16 * 1024, 2);
    for chunk in up.chunks(1024) {
        write_all(&client, chunk);
    }
    let mut got = vec![0; up.len()];
    read_exact(&server, &mut got);
    assert!(got == up, "client -> server data differs");
    for chunk in down.chunks(1024) {
        write_all(&server, chunk);
    }
    let mut got = vec![0; down.len()];
    read_exact(&client, &mut got);
    assert!(got == down, "server -> client data differs");
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn testbed_l2cap_raw_both_ways() {
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let (server, client) = connect_pair(&bed, Protocol::L2cap, 0x1003);
    // Packets of many sizes up to the default MTU (672): each arrives whole and alone.
    let sizes = [1usize, 2, 100, 671, 672, 300, 17, 500];
    for (from, to, seed) in [(&client, &server, 10u8), (&server, &client, 20)] {
        for (i, &size) in sizes.iter().enumerate() {
            let packet = pattern(size, seed + i as u8);
            let n = rustix::io::write(from, &packet).expect("send packet");
            assert_eq!(n, size, "a SEQPACKET send is all or nothing");
        }
        for (i, &size) in sizes.iter().enumerate() {
            let mut buf = [0u8; 1024];
            let n = rustix::io::read(to, &mut buf).expect("recv packet");
            assert_eq!(n, size, "packet {i} boundaries lost");
            assert!(
                buf[..n] == pattern(size, seed + i as u8)[..],
                "packet {i} differs"
            );
        }
    }
}
