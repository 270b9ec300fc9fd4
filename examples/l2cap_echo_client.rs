//! An L2CAP echo client: copies stdin to the server and every echoed byte to stdout,
//! then disconnects and exits 0 once the last echo came back.
//!
//! Run: `cargo run --example l2cap_echo_client -- [--adapter ADDR] [--basic] SERVER_ADDR PSM|UUID`

#[path = "echo/mod.rs"]
mod echo;

fn main() {
    echo::client(sigloop::bluetooth::Protocol::L2cap)
}
