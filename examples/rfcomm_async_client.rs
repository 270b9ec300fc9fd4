//! An RFCOMM client written with `async`, on the same `BluetoothSocket` as the
//! slot-based examples: it awaits `connected` (or `error_occurred`), sends MESSAGE, reads
//! `ready_read` as a stream until the echo is complete, prints it, and awaits
//! `disconnected`. The sigloop loop runs inside tokio (see `tokio_embed`).
//!
//! Run: `cargo run --example rfcomm_async_client -- [--adapter ADDR] SERVER_ADDR CHANNEL MESSAGE`
//! against `rfcomm_echo_server`, for example on the test bed:
//! `testbed/run 'target/debug/examples/rfcomm_echo_server --adapter $TESTBED_ADDR0 &
//!  sleep 2; target/debug/examples/rfcomm_async_client --adapter $TESTBED_ADDR1 $TESTBED_ADDR0 5 hello'`

#[path = "tokio_driver/mod.rs"]
mod tokio_driver;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use sigloop::bluetooth::{BluetoothAddress, BluetoothSocket, Protocol};
use sigloop::core::{EventLoop, SocketError};

fn usage() -> ! {
    eprintln!("usage: rfcomm_async_client [--adapter ADDR] SERVER_ADDR CHANNEL MESSAGE");
    std::process::exit(2);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut adapter = None;
    if args.first().map(String::as_str) == Some("--adapter") {
        if args.len() < 2 {
            usage();
        }
        adapter = Some(args[1].parse::<BluetoothAddress>().unwrap_or_else(|e| {
            eprintln!("error: --adapter: {e}");
            std::process::exit(2)
        }));
        args.drain(..2);
    }
    let [server, channel, message] = args.as_slice() else {
        usage()
    };
    let server: BluetoothAddress = server.parse().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let channel: u16 = channel.parse().unwrap_or_else(|_| usage());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, run(adapter, server, channel, message.clone())) {
        Ok(echo) => println!("{echo}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(
    adapter: Option<BluetoothAddress>,
    server: BluetoothAddress,
    channel: u16,
    message: String,
) -> Result<String, String> {
    let event_loop = Rc::new(EventLoop::new().map_err(|e| e.to_string())?);
    let handle = event_loop.handle();
    let finished = Rc::new(Cell::new(false));
    let (el, f) = (event_loop.clone(), finished.clone());
    let driver =
        tokio::task::spawn_local(async move { tokio_driver::drive(&el, || f.get()).await });

    let socket = BluetoothSocket::new(&handle, Protocol::Rfcomm);
    if let Some(a) = adapter {
        socket.set_local_adapter(a);
    }
    // Subscribe before starting, so no emission is missed.
    let mut connected = socket.connected().next_emission();
    let mut failed = socket.error_occurred().next_emission();
    let mut reads = socket.ready_read().stream(16);
    socket
        .connect_to_service(server, channel)
        .map_err(|e| format!("connect: {e:?}"))?;
    // Whichever comes first: `connected` or `error_occurred`.
    let outcome: Result<(), SocketError> = poll_fn(|cx| {
        if let Poll::Ready(Some(())) = Pin::new(&mut connected).poll(cx) {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut failed).poll(cx) {
            Poll::Ready(Some(e)) => Poll::Ready(Err(e)),
            _ => Poll::Pending,
        }
    })
    .await;
    outcome.map_err(|e| format!("connect: {e:?}: {}", socket.error_string()))?;

    socket
        .write(message.as_bytes())
        .map_err(|e| format!("write: {e:?}"))?;
    let mut echo = Vec::new();
    while echo.len() < message.len() {
        match tokio_driver::next(&mut reads).await {
            Some(Ok(())) => echo.extend(socket.read_all()),
            // A lagged `ready_read` loses nothing: the bytes wait in the socket.
            Some(Err(_lagged)) => echo.extend(socket.read_all()),
            None => return Err("the socket went away".into()),
        }
    }
    let disconnected = socket.disconnected().next_emission();
    socket.disconnect_from_service();
    disconnected.await;
    // The driver waits for the loop's fd; nothing more is due there, so stop it here.
    finished.set(true);
    driver.abort();
    Ok(String::from_utf8_lossy(&echo).into_owned())
}
