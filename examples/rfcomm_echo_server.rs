//! An RFCOMM echo server: prints `listening on ADDR ...` and echoes everything back to
//! each of any number of clients until they close.
//!
//! Run: `cargo run --example rfcomm_echo_server -- [--adapter ADDR] [--channel N | --uuid UUID]`

#[path = "echo/mod.rs"]
mod echo;

fn main() {
    echo::server(sigloop::bluetooth::Protocol::Rfcomm)
}
