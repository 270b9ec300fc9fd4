//! [`IoCapability`]: what a pairing agent can show and take in.

/// What the user of a [`PairingAgent`](super::PairingAgent) can see and enter; it decides
/// which pairing method the two sides use (the Bluetooth Core specification's IO
/// capabilities, bluetoothd's agent capabilities).
///
/// It also decides which questions the agent gets. bluetoothd's questions the capability
/// has no way to answer are refused without reaching the program (the capability is told
/// to bluetoothd as the set of questions the agent answers): a
/// [`Question::Authorization`](super::Question::Authorization) or
/// [`Question::ServiceAuthorization`](super::Question::ServiceAuthorization) reaches only
/// an agent with a yes/no input (`DisplayYesNo`, `KeyboardDisplay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoCapability {
    /// Shows a PIN or passkey; cannot answer yes or no.
    DisplayOnly,
    /// Shows a passkey and answers yes or no: numeric comparison.
    DisplayYesNo,
    /// Enters a PIN or passkey; shows nothing.
    KeyboardOnly,
    /// Neither: Just Works, no protection against a man in the middle.
    NoInputNoOutput,
    /// Shows, enters and answers yes or no.
    KeyboardDisplay,
}

impl IoCapability {
    /// Whether the agent gets PIN and passkey entry questions.
    pub(crate) fn keyboard(self) -> bool {
        matches!(
            self,
            IoCapability::KeyboardOnly | IoCapability::KeyboardDisplay
        )
    }

    /// Whether the agent shows PINs and passkeys.
    pub(crate) fn display(self) -> bool {
        matches!(
            self,
            IoCapability::DisplayOnly | IoCapability::DisplayYesNo | IoCapability::KeyboardDisplay
        )
    }

    /// Whether the agent answers yes/no questions.
    pub(crate) fn yes_no(self) -> bool {
        matches!(
            self,
            IoCapability::DisplayYesNo | IoCapability::KeyboardDisplay
        )
    }
}

#[cfg(test)]
mod tests {
    use super::IoCapability::*;

    #[test]
    fn each_capability_answers_its_own_questions() {
        let table = [
            (DisplayOnly, false, true, false),
            (DisplayYesNo, false, true, true),
            (KeyboardOnly, true, false, false),
            (NoInputNoOutput, false, false, false),
            (KeyboardDisplay, true, true, true),
        ];
        for (cap, keyboard, display, yes_no) in table {
            assert_eq!(
                (cap.keyboard(), cap.display(), cap.yes_no()),
                (keyboard, display, yes_no),
                "{cap:?}"
            );
        }
    }
}
