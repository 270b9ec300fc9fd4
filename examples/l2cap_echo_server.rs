//! An L2CAP echo server: prints `listening on ADDR ...` and echoes everything back to
//! each of any number of clients until they close.
//!
//! Run: `cargo run --example l2cap_echo_server -- [--adapter ADDR] [--psm N | --uuid UUID] [--basic]`

#[path = "echo/mod.rs"]
mod echo;

fn main() {
    echo::server(sigloop::bluetooth::Protocol::L2cap)
}
