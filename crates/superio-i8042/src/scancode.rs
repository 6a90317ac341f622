//! Keys and their scan codes: the set-2 codes an MF2 keyboard sends, the
//! i8042's set-2 → set-1 translation, and the set-1 → set-2 inverse.
//!
//! A keyboard natively speaks set 2. Set 1 (what XT software and Linux's
//! translated mode expect) is, byte for byte, what the controller's
//! translation table makes of set 2: the keyboard's own set-1 mode and the
//! controller's XLATE produce the same bytes. So this module stores only set-2
//! codes and derives set 1 by translation.

use crate::regs::{SCAN_BREAK_PREFIX, SCAN_EXTENDED, SCAN_EXTENDED1, SCAN_SET1_BREAK};

/// How a key is coded in set 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// One make byte; break is `F0 code`.
    Plain(u8),
    /// `E0 code`; break is `E0 F0 code`.
    Extended(u8),
    /// Print Screen: `E0 12 E0 7C`, break `E0 F0 7C E0 F0 12`.
    PrintScreen,
    /// Pause: `E1 14 77 E1 F0 14 F0 77` on press, nothing on release.
    Pause,
}

macro_rules! keys {
    ($( $(#[$doc:meta])* $name:ident = $code:expr, $linux:expr; )*) => {
        /// A key of a 102/105-key PC keyboard, named after its US legend.
        ///
        /// ```
        /// use superio_i8042::Key;
        /// // Set-2 make code of A, as the keyboard sends it.
        /// assert_eq!(Key::A.set2_make(), [0x1C]);
        /// // Linux input keycode (KEY_A), for VMMs fed by evdev.
        /// assert_eq!(Key::A.linux_keycode(), 30);
        /// assert_eq!(Key::from_linux_keycode(30), Some(Key::A));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[non_exhaustive]
        pub enum Key {
            $( $(#[$doc])* $name, )*
        }

        impl Key {
            /// Every key, in declaration order.
            pub const ALL: &'static [Key] = &[$(Key::$name),*];

            const fn code(self) -> Code {
                match self { $(Key::$name => $code,)* }
            }

            /// The Linux input event code (`KEY_*` in
            /// `include/uapi/linux/input-event-codes.h`).
            pub const fn linux_keycode(self) -> u16 {
                match self { $(Key::$name => $linux,)* }
            }
        }
    };
}

use Code::{Extended as X, Plain as P};

keys! {
    /// Esc.
    Escape = P(0x76), 1;
    /// F1.
    F1 = P(0x05), 59;
    /// F2.
    F2 = P(0x06), 60;
    /// F3.
    F3 = P(0x04), 61;
    /// F4.
    F4 = P(0x0C), 62;
    /// F5.
    F5 = P(0x03), 63;
    /// F6.
    F6 = P(0x0B), 64;
    /// F7 (set 2 code 0x83, the only make code above 0x7F).
    F7 = P(0x83), 65;
    /// F8.
    F8 = P(0x0A), 66;
    /// F9.
    F9 = P(0x01), 67;
    /// F10.
    F10 = P(0x09), 68;
    /// F11.
    F11 = P(0x78), 87;
    /// F12.
    F12 = P(0x07), 88;
    /// `` ` `` / `~`.
    Grave = P(0x0E), 41;
    /// 1.
    Digit1 = P(0x16), 2;
    /// 2.
    Digit2 = P(0x1E), 3;
    /// 3.
    Digit3 = P(0x26), 4;
    /// 4.
    Digit4 = P(0x25), 5;
    /// 5.
    Digit5 = P(0x2E), 6;
    /// 6.
    Digit6 = P(0x36), 7;
    /// 7.
    Digit7 = P(0x3D), 8;
    /// 8.
    Digit8 = P(0x3E), 9;
    /// 9.
    Digit9 = P(0x46), 10;
    /// 0.
    Digit0 = P(0x45), 11;
    /// `-` / `_`.
    Minus = P(0x4E), 12;
    /// `=` / `+`.
    Equal = P(0x55), 13;
    /// Backspace.
    Backspace = P(0x66), 14;
    /// Tab.
    Tab = P(0x0D), 15;
    /// Q.
    Q = P(0x15), 16;
    /// W.
    W = P(0x1D), 17;
    /// E.
    E = P(0x24), 18;
    /// R.
    R = P(0x2D), 19;
    /// T.
    T = P(0x2C), 20;
    /// Y.
    Y = P(0x35), 21;
    /// U.
    U = P(0x3C), 22;
    /// I.
    I = P(0x43), 23;
    /// O.
    O = P(0x44), 24;
    /// P.
    P = P(0x4D), 25;
    /// `[` / `{`.
    LeftBracket = P(0x54), 26;
    /// `]` / `}`.
    RightBracket = P(0x5B), 27;
    /// Enter (main block).
    Enter = P(0x5A), 28;
    /// Left Ctrl.
    LeftCtrl = P(0x14), 29;
    /// A.
    A = P(0x1C), 30;
    /// S.
    S = P(0x1B), 31;
    /// D.
    D = P(0x23), 32;
    /// F.
    F = P(0x2B), 33;
    /// G.
    G = P(0x34), 34;
    /// H.
    H = P(0x33), 35;
    /// J.
    J = P(0x3B), 36;
    /// K.
    K = P(0x42), 37;
    /// L.
    L = P(0x4B), 38;
    /// `;` / `:`.
    Semicolon = P(0x4C), 39;
    /// `'` / `"`.
    Apostrophe = P(0x52), 40;
    /// Left Shift.
    LeftShift = P(0x12), 42;
    /// `\` / `|` (US position).
    Backslash = P(0x5D), 43;
    /// Z.
    Z = P(0x1A), 44;
    /// X.
    X = P(0x22), 45;
    /// C.
    C = P(0x21), 46;
    /// V.
    V = P(0x2A), 47;
    /// B.
    B = P(0x32), 48;
    /// N.
    N = P(0x31), 49;
    /// M.
    M = P(0x3A), 50;
    /// `,` / `<`.
    Comma = P(0x41), 51;
    /// `.` / `>`.
    Dot = P(0x49), 52;
    /// `/` / `?`.
    Slash = P(0x4A), 53;
    /// Right Shift.
    RightShift = P(0x59), 54;
    /// Keypad `*`.
    KpMultiply = P(0x7C), 55;
    /// Left Alt.
    LeftAlt = P(0x11), 56;
    /// Space bar.
    Space = P(0x29), 57;
    /// Caps Lock.
    CapsLock = P(0x58), 58;
    /// Num Lock.
    NumLock = P(0x77), 69;
    /// Scroll Lock.
    ScrollLock = P(0x7E), 70;
    /// Keypad 7 / Home.
    Kp7 = P(0x6C), 71;
    /// Keypad 8 / Up.
    Kp8 = P(0x75), 72;
    /// Keypad 9 / Page Up.
    Kp9 = P(0x7D), 73;
    /// Keypad `-`.
    KpMinus = P(0x7B), 74;
    /// Keypad 4 / Left.
    Kp4 = P(0x6B), 75;
    /// Keypad 5.
    Kp5 = P(0x73), 76;
    /// Keypad 6 / Right.
    Kp6 = P(0x74), 77;
    /// Keypad `+`.
    KpPlus = P(0x79), 78;
    /// Keypad 1 / End.
    Kp1 = P(0x69), 79;
    /// Keypad 2 / Down.
    Kp2 = P(0x72), 80;
    /// Keypad 3 / Page Down.
    Kp3 = P(0x7A), 81;
    /// Keypad 0 / Insert.
    Kp0 = P(0x70), 82;
    /// Keypad `.` / Delete.
    KpDot = P(0x71), 83;
    /// The extra key of ISO keyboards (`<` / `>` left of Z).
    Iso102nd = P(0x61), 86;
    /// Keypad Enter.
    KpEnter = X(0x5A), 96;
    /// Right Ctrl.
    RightCtrl = X(0x14), 97;
    /// Keypad `/`.
    KpDivide = X(0x4A), 98;
    /// Print Screen / `SysRq`.
    PrintScreen = Code::PrintScreen, 99;
    /// Right Alt (`AltGr`).
    RightAlt = X(0x11), 100;
    /// Home.
    Home = X(0x6C), 102;
    /// Up arrow.
    Up = X(0x75), 103;
    /// Page Up.
    PageUp = X(0x7D), 104;
    /// Left arrow.
    Left = X(0x6B), 105;
    /// Right arrow.
    Right = X(0x74), 106;
    /// End.
    End = X(0x69), 107;
    /// Down arrow.
    Down = X(0x72), 108;
    /// Page Down.
    PageDown = X(0x7A), 109;
    /// Insert.
    Insert = X(0x70), 110;
    /// Delete (the one Ctrl+Alt+Del uses).
    Delete = X(0x71), 111;
    /// Pause / Break (sends its whole sequence on press, nothing on release).
    Pause = Code::Pause, 119;
    /// Left Windows / Super.
    LeftMeta = X(0x1F), 125;
    /// Right Windows / Super.
    RightMeta = X(0x27), 126;
    /// Menu / Application.
    Menu = X(0x2F), 127;
}

impl Key {
    /// The key with Linux input keycode `code`, if it is one of ours.
    pub fn from_linux_keycode(code: u16) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.linux_keycode() == code)
    }

    /// The set-2 bytes the keyboard sends when the key goes down.
    pub fn set2_make(self) -> Vec<u8> {
        match self.code() {
            Code::Plain(c) => vec![c],
            Code::Extended(c) => vec![SCAN_EXTENDED, c],
            Code::PrintScreen => vec![SCAN_EXTENDED, 0x12, SCAN_EXTENDED, 0x7C],
            Code::Pause => vec![
                SCAN_EXTENDED1,
                0x14,
                0x77,
                SCAN_EXTENDED1,
                SCAN_BREAK_PREFIX,
                0x14,
                SCAN_BREAK_PREFIX,
                0x77,
            ],
        }
    }

    /// The set-2 bytes the keyboard sends when the key goes up (empty for Pause).
    pub fn set2_break(self) -> Vec<u8> {
        match self.code() {
            Code::Plain(c) => vec![SCAN_BREAK_PREFIX, c],
            Code::Extended(c) => vec![SCAN_EXTENDED, SCAN_BREAK_PREFIX, c],
            Code::PrintScreen => vec![
                SCAN_EXTENDED,
                SCAN_BREAK_PREFIX,
                0x7C,
                SCAN_EXTENDED,
                SCAN_BREAK_PREFIX,
                0x12,
            ],
            Code::Pause => Vec::new(),
        }
    }

    /// The bytes for a press (`down`) or release in scan code set `set`
    /// (1 or 2; anything else is treated as 2).
    pub fn scan_codes(self, set: ScanCodeSet, down: bool) -> Vec<u8> {
        let set2 = if down {
            self.set2_make()
        } else {
            self.set2_break()
        };
        match set {
            ScanCodeSet::Set2 => set2,
            ScanCodeSet::Set1 => set2_to_set1(&set2),
        }
    }
}

/// The scan code set the keyboard speaks (chosen by the guest with 0xF0).
///
/// ```
/// use superio_i8042::{Key, ScanCodeSet};
/// assert_eq!(Key::A.scan_codes(ScanCodeSet::Set1, true), [0x1E]);
/// assert_eq!(Key::A.scan_codes(ScanCodeSet::Set2, false), [0xF0, 0x1C]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ScanCodeSet {
    /// Set 1 (XT): break = make | 0x80.
    Set1,
    /// Set 2 (AT, the power-on default): break = `F0` make.
    #[default]
    Set2,
}

impl ScanCodeSet {
    /// The number the keyboard reports for `F0 00` (1 or 2).
    pub fn number(self) -> u8 {
        match self {
            ScanCodeSet::Set1 => 1,
            ScanCodeSet::Set2 => 2,
        }
    }

    /// The set with number `n`, if the keyboard supports it (set 3 is not
    /// emulated).
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            1 => Some(ScanCodeSet::Set1),
            2 => Some(ScanCodeSet::Set2),
            _ => None,
        }
    }
}

/// The i8042's set-2 → set-1 translation of bytes 0x00..=0x7F (the
/// controller's ROM table; IBM PS/2 technical reference). Bytes 0x80..=0xFF
/// pass unchanged except 0x83 (F7) → 0x41 and 0x84 (`SysRq`) → 0x54.
#[rustfmt::skip]
pub const XLATE_TABLE: [u8; 128] = [
    0xFF, 0x43, 0x41, 0x3F, 0x3D, 0x3B, 0x3C, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3E, 0x0F, 0x29, 0x59,
    0x65, 0x38, 0x2A, 0x70, 0x1D, 0x10, 0x02, 0x5A, 0x66, 0x71, 0x2C, 0x1F, 0x1E, 0x11, 0x03, 0x5B,
    0x67, 0x2E, 0x2D, 0x20, 0x12, 0x05, 0x04, 0x5C, 0x68, 0x39, 0x2F, 0x21, 0x14, 0x13, 0x06, 0x5D,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5E, 0x6A, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5F,
    0x6B, 0x33, 0x25, 0x17, 0x18, 0x0B, 0x0A, 0x60, 0x6C, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0C, 0x61,
    0x6D, 0x73, 0x28, 0x74, 0x1A, 0x0D, 0x62, 0x6E, 0x3A, 0x36, 0x1C, 0x1B, 0x75, 0x2B, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7A, 0x0E, 0x7B, 0x7C, 0x4F, 0x7D, 0x4B, 0x47, 0x7E, 0x7F, 0x6F,
    0x52, 0x53, 0x50, 0x4C, 0x4D, 0x48, 0x01, 0x45, 0x57, 0x4E, 0x51, 0x4A, 0x37, 0x49, 0x46, 0x54,
];

/// Translates one byte as the controller does (without the `F0` handling,
/// see [`Translator`]).
pub fn translate_byte(byte: u8) -> u8 {
    match byte {
        0x83 => 0x41,
        0x84 => 0x54,
        _ => XLATE_TABLE.get(usize::from(byte)).copied().unwrap_or(byte),
    }
}

/// The controller's translation state: a set-2 `F0` is swallowed and sets
/// bit 7 of the next translated byte.
///
/// ```
/// use superio_i8042::Translator;
/// let mut t = Translator::default();
/// // Set-2 "release Left Ctrl" (F0 14) becomes set-1 0x9D.
/// assert_eq!(t.feed(0xF0), None);
/// assert_eq!(t.feed(0x14), Some(0x9D));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Translator {
    /// An `F0` was swallowed; the next byte is a break code.
    pub break_pending: bool,
}

impl Translator {
    /// Feeds one byte from the keyboard; returns what the CPU sees, if anything.
    pub fn feed(&mut self, byte: u8) -> Option<u8> {
        if byte == SCAN_BREAK_PREFIX {
            self.break_pending = true;
            return None;
        }
        let out = translate_byte(byte);
        if std::mem::take(&mut self.break_pending) {
            Some(out | SCAN_SET1_BREAK)
        } else {
            Some(out)
        }
    }
}

/// Translates a whole set-2 sequence to set 1.
pub fn set2_to_set1(bytes: &[u8]) -> Vec<u8> {
    let mut t = Translator::default();
    bytes.iter().filter_map(|&b| t.feed(b)).collect()
}

/// The set-2 byte whose translation is the set-1 make code `code`
/// (0x01..=0x7F), if any. Where two set-2 bytes translate alike, the one a
/// real key sends wins (0x83 for F7, 0x84 for `SysRq`).
pub fn untranslate_byte(code: u8) -> Option<u8> {
    match code {
        0x41 => Some(0x83),
        0x54 => Some(0x84),
        _ => XLATE_TABLE
            .iter()
            .position(|&v| v == code)
            .and_then(|i| u8::try_from(i).ok()),
    }
}

/// Converts a set-1 byte stream (make codes, `| 0x80` breaks, `E0`/`E1`
/// prefixes) to set 2. Returns `None` if a byte has no set-2 equivalent.
pub fn set1_to_set2(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == SCAN_EXTENDED || b == SCAN_EXTENDED1 {
            out.push(b);
            continue;
        }
        let code = untranslate_byte(b & !SCAN_SET1_BREAK)?;
        if b & SCAN_SET1_BREAK != 0 {
            out.push(SCAN_BREAK_PREFIX);
        }
        out.push(code);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_untranslate_inverts_translate_for_every_key() {
        for &key in Key::ALL {
            for down in [true, false] {
                let set2 = key.scan_codes(ScanCodeSet::Set2, down);
                let set1 = key.scan_codes(ScanCodeSet::Set1, down);
                assert_eq!(set1_to_set2(&set1), Some(set2), "{key:?} down={down}");
            }
        }
    }

    #[test]
    fn test_linux_keycodes_are_unique() {
        for (i, a) in Key::ALL.iter().enumerate() {
            for b in &Key::ALL[i + 1..] {
                assert_ne!(a.linux_keycode(), b.linux_keycode(), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn test_set1_codes_of_main_block_equal_linux_keycodes() {
        // For the non-extended keys up to F12, Linux's keycode is the set-1 code
        // (an independent cross-check of the set-2 table through translation).
        for &key in Key::ALL {
            if let Code::Plain(_) = key.code() {
                let set1 = key.scan_codes(ScanCodeSet::Set1, true);
                assert_eq!(u16::from(set1[0]), key.linux_keycode(), "{key:?}");
            }
        }
    }
}
