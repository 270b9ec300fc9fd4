//! Pairing with an agent of our own: every question bluetoothd asks is printed with the
//! answer given.
//!
//! Run: `cargo run --example pair -- --adapter ADDR PEER [OPTIONS]` pairs the adapter with
//! PEER and exits 0 when paired, 1 otherwise;
//! `pair --adapter ADDR --unpair PEER` removes the bond (exit 0 when done);
//! `pair --adapter ADDR --agent-only [OPTIONS]` only answers questions (those of pairings
//! other devices start: it is bluetoothd's default agent) until killed. The pairing side
//! answers the questions of its own pairing only (it is not the default agent), so both
//! can run under one bluetoothd.
//!
//! Options: `--confirm yes|no` (the answer to a numeric comparison or an authorization;
//! yes by default), `--capability display-yes-no|display-only|keyboard-only|
//! keyboard-display|none` (default display-yes-no), `--passkey N` (the answer to a passkey
//! question; without it the passkey is read from a line of stdin), `--pin PIN` (for a
//! legacy device; default 0000), `--trust` (pair as `AuthorizedPaired`).
//!
//! Lines: `agent ready`, `question DEVICE confirm 123456` / `passkey` / `pin` /
//! `authorize` / `authorize-service UUID`, each followed by `answer ...`;
//! `display DEVICE passkey 123456 entered N` / `display DEVICE pin PIN`;
//! `cancelled DEVICE`; at the end `paired DEVICE Paired`, `unpaired DEVICE` or
//! `error: ...` on stderr.

use std::io::BufRead;

use sigloop::bluetooth::{
    BluetoothAddress, DisplayCode, IoCapability, LocalDevice, Pairing, PairingAgent,
    PairingRequest, Question,
};
use sigloop::core::EventLoop;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

struct Options {
    adapter: BluetoothAddress,
    peer: Option<BluetoothAddress>,
    agent_only: bool,
    unpair: bool,
    confirm: bool,
    capability: IoCapability,
    passkey: Option<u32>,
    pin: String,
    trust: bool,
}

fn options() -> Options {
    let mut o = Options {
        adapter: BluetoothAddress::ANY,
        peer: None,
        agent_only: false,
        unpair: false,
        confirm: true,
        capability: IoCapability::DisplayYesNo,
        passkey: None,
        pin: "0000".into(),
        trust: false,
    };
    let mut args = std::env::args().skip(1);
    let value = |args: &mut dyn Iterator<Item = String>, name: &str| {
        args.next()
            .unwrap_or_else(|| fail(format!("{name} needs a value")))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--adapter" => o.adapter = value(&mut args, &a).parse().unwrap_or_else(|e| fail(e)),
            "--agent-only" => o.agent_only = true,
            "--unpair" => o.unpair = true,
            "--trust" => o.trust = true,
            "--confirm" => {
                o.confirm = match value(&mut args, &a).as_str() {
                    "yes" => true,
                    "no" => false,
                    v => fail(format!("--confirm yes|no, not {v}")),
                }
            }
            "--capability" => {
                o.capability = match value(&mut args, &a).as_str() {
                    "display-yes-no" => IoCapability::DisplayYesNo,
                    "display-only" => IoCapability::DisplayOnly,
                    "keyboard-only" => IoCapability::KeyboardOnly,
                    "keyboard-display" => IoCapability::KeyboardDisplay,
                    "none" => IoCapability::NoInputNoOutput,
                    v => fail(format!("unknown capability {v}")),
                }
            }
            "--passkey" => {
                o.passkey = Some(value(&mut args, &a).parse().unwrap_or_else(|e| fail(e)))
            }
            "--pin" => o.pin = value(&mut args, &a),
            peer if !peer.starts_with("--") => {
                o.peer = Some(peer.parse().unwrap_or_else(|e| fail(e)))
            }
            other => fail(format!("unknown option {other}")),
        }
    }
    if o.agent_only == o.peer.is_some() {
        fail("usage: pair --adapter ADDR (PEER [--unpair] | --agent-only) [OPTIONS]");
    }
    o
}

/// Prints the question, answers it as the options say, prints the answer.
fn answer(request: &PairingRequest, confirm: bool, passkey: Option<u32>, pin: &str) {
    let device = request.device();
    let answered = match request.question() {
        Question::Confirmation { passkey } => {
            println!("question {device} confirm {passkey:06}");
            yes_no(request, confirm)
        }
        Question::Authorization => {
            println!("question {device} authorize");
            yes_no(request, confirm)
        }
        Question::ServiceAuthorization { service } => {
            println!("question {device} authorize-service {service}");
            yes_no(request, confirm)
        }
        Question::Passkey => {
            println!("question {device} passkey");
            let key = passkey.or_else(|| {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok()?;
                line.trim().parse().ok()
            });
            match key {
                Some(key) => {
                    println!("answer {key:06}");
                    request.answer_passkey(key)
                }
                None => {
                    println!("answer no (no passkey)");
                    request.reject()
                }
            }
        }
        Question::PinCode => {
            println!("question {device} pin");
            println!("answer {pin}");
            request.answer_pin_code(pin)
        }
    };
    if let Err(e) = answered {
        eprintln!("error: answering: {e}");
    }
}

fn yes_no(request: &PairingRequest, yes: bool) -> Result<(), sigloop::bluetooth::AnswerError> {
    println!("answer {}", if yes { "yes" } else { "no" });
    if yes {
        request.accept()
    } else {
        request.reject()
    }
}

fn main() {
    let o = options();
    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let local = LocalDevice::new(&h, o.adapter).unwrap_or_else(|e| fail(e));
    // The answering side is bluetoothd's default agent (remote devices' questions reach
    // it); the pairing side answers its own pairing's questions only.
    let agent = if o.agent_only {
        PairingAgent::new(&h, o.capability)
    } else {
        PairingAgent::new_not_default(&h, o.capability)
    }
    .unwrap_or_else(|e| fail(e));
    let (confirm, passkey, pin) = (o.confirm, o.passkey, o.pin.clone());
    agent
        .request_received()
        .connect(move |r| answer(r, confirm, passkey, &pin));
    agent.display_requested().connect(|d| match &d.code {
        DisplayCode::Passkey { passkey, entered } => {
            println!(
                "display {} passkey {passkey:06} entered {entered}",
                d.device
            )
        }
        DisplayCode::PinCode(pin) => println!("display {} pin {pin}", d.device),
    });
    agent
        .request_cancelled()
        .connect(|device| println!("cancelled {device}"));
    println!("agent ready");

    if let Some(peer) = o.peer {
        let wanted = match (o.unpair, o.trust) {
            (true, _) => Pairing::Unpaired,
            (false, true) => Pairing::AuthorizedPaired,
            (false, false) => Pairing::Paired,
        };
        let h2 = h.clone();
        local.pairing_finished().connect(move |(device, pairing)| {
            match pairing {
                Pairing::Unpaired => println!("unpaired {device}"),
                p => println!("paired {device} {p:?}"),
            }
            h2.quit();
        });
        let h2 = h.clone();
        local.error_occurred().connect(move |e| {
            eprintln!("error: {e}");
            h2.exit(1);
        });
        local
            .request_pairing(peer, wanted)
            .unwrap_or_else(|e| fail(e));
    }
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
