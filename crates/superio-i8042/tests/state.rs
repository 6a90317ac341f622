//! Snapshots: `state()` / `from_state()` round trips, validation of corrupt
//! states, and the serde form (feature `serde`).

use superio_core::test_utils::RecordingIrq;
use superio_i8042::{
    ByteSource, I8042Config, I8042State, Key, NoEvents, OutputByte, StateError, I8042,
    STATE_VERSION,
};

const DATA: u8 = 0;
const CMD: u8 = 4;
const OBF: u8 = 0x01;

type Dev = I8042<RecordingIrq, RecordingIrq>;

fn restore(state: &I8042State) -> Result<Dev, StateError> {
    I8042::from_state(RecordingIrq::new(), RecordingIrq::new(), NoEvents, state)
}

fn drain(dev: &mut Dev) -> Vec<u8> {
    let mut out = Vec::new();
    while dev.read(CMD) & OBF != 0 && out.len() < 32 {
        out.push(dev.read(DATA));
    }
    out
}

/// A device in the middle of everything: keys queued behind a disabled
/// interface, a controller command waiting for its data byte, the keyboard
/// waiting for an LED parameter, LEDs and A20 changed.
fn busy_device() -> Dev {
    let mut dev = I8042::with_config(
        RecordingIrq::new(),
        RecordingIrq::new(),
        NoEvents,
        I8042Config::raw(),
    );
    dev.write(CMD, 0xD1);
    dev.write(DATA, 0xDD); // A20 off
    dev.write(DATA, 0xED);
    dev.write(DATA, 0x02); // Num Lock
    dev.read(DATA);
    dev.read(DATA);
    dev.write(CMD, 0xAD);
    dev.tap(Key::Delete).unwrap();
    dev.write(DATA, 0xED); // keyboard now waits for the LED byte
    dev.write(CMD, 0xD3); // controller waits for the loopback byte
    dev
}

#[test]
fn test_state_round_trip_is_identical() {
    let dev = busy_device();
    let state = dev.state();
    let copy = restore(&state).unwrap();
    assert_eq!(copy.state(), state);
}

#[test]
fn test_state_restored_device_continues_identically() {
    let mut a = busy_device();
    let mut b = restore(&a.state()).unwrap();
    for dev in [&mut a, &mut b] {
        dev.write(DATA, 0x5A); // the 0xD3 data byte
        dev.write(CMD, 0xAE);
        dev.write(DATA, 0x04); // the LED parameter: Caps Lock
    }
    assert_eq!(drain(&mut a), drain(&mut b));
    assert_eq!(a.leds(), b.leds());
    assert_eq!(a.a20_enabled(), b.a20_enabled());
}

#[test]
fn test_state_restore_raises_irq_on_new_sink_for_pending_byte() {
    let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
    dev.press(Key::A).unwrap();
    let irq = RecordingIrq::new();
    let restored =
        I8042::from_state(irq.clone(), RecordingIrq::new(), NoEvents, &dev.state()).unwrap();
    assert!(restored.interrupt_level());
    assert_eq!(irq.raises(), 1);
}

#[test]
fn test_state_rejects_other_version() {
    let mut s = busy_device().state();
    s.version = STATE_VERSION + 1;
    assert_eq!(
        restore(&s).unwrap_err(),
        StateError::UnsupportedVersion {
            found: STATE_VERSION + 1,
            expected: STATE_VERSION
        }
    );
}

#[test]
fn test_state_rejects_queue_longer_than_16() {
    let mut s = busy_device().state();
    s.keyboard.queue = vec![0x1C; 17];
    assert!(matches!(
        restore(&s).unwrap_err(),
        StateError::QueueTooLong { max: 16, .. }
    ));
}

#[test]
fn test_state_rejects_command_without_data_byte() {
    let mut s = busy_device().state();
    s.awaiting_data = Some(0x20);
    assert_eq!(
        restore(&s).unwrap_err(),
        StateError::InvalidAwaitingCommand(0x20)
    );
}

#[test]
fn test_state_rejects_keyboard_command_without_parameter() {
    let mut s = busy_device().state();
    s.keyboard.awaiting = Some(0xF2);
    assert_eq!(
        restore(&s).unwrap_err(),
        StateError::InvalidKeyboardCommand(0xF2)
    );
}

#[test]
fn test_state_rejects_led_bits_outside_field() {
    let mut s = busy_device().state();
    s.keyboard.leds = 0x08;
    assert!(matches!(
        restore(&s).unwrap_err(),
        StateError::InvalidKeyboardSetting { leds: 0x08, .. }
    ));
}

#[test]
fn test_state_rejects_typematic_bit7() {
    let mut s = busy_device().state();
    s.keyboard.typematic = 0x80;
    assert!(matches!(
        restore(&s).unwrap_err(),
        StateError::InvalidKeyboardSetting {
            typematic: 0x80,
            ..
        }
    ));
}

#[test]
fn test_state_rejects_timeout_flag_on_keyboard_byte() {
    let mut s = busy_device().state();
    s.output_buffer = Some(OutputByte {
        value: 0xFE,
        source: ByteSource::Keyboard,
        timeout: true,
    });
    assert_eq!(restore(&s).unwrap_err(), StateError::InvalidTimeoutFlag);
}

#[cfg(feature = "serde")]
#[test]
fn test_state_serde_json_round_trip() {
    let state = busy_device().state();
    let json = serde_json::to_string(&state).unwrap();
    let back: I8042State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    assert!(restore(&back).is_ok());
}

#[test]
fn test_waiting_command_and_cmddat_survive_snapshots_and_0xfe_cancels_them() {
    // The waiting command shares a word with the status register, with
    // 0xFF meaning "none": every command that takes a data byte must come
    // back out of a snapshot as itself, with CMDDAT set and the status
    // otherwise untouched, and the 0xFE fast path must cancel it.
    let data_commands = (0x60..=0x7F).chain([0xD1, 0xD2, 0xD3, 0xD4]);
    for cmd in data_commands {
        let mut dev: Dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
        let idle = dev.read(CMD);
        dev.write(CMD, cmd);
        let state = dev.state();
        assert_eq!(state.awaiting_data, Some(cmd), "command {cmd:#x}");
        assert!(state.last_write_was_command);
        let mut restored = restore(&state).unwrap();
        assert_eq!(restored.read(CMD), dev.read(CMD), "command {cmd:#x}");
        assert_eq!(restored.state(), state, "command {cmd:#x}");

        dev.write(CMD, 0xFE);
        let state = dev.state();
        assert_eq!(state.awaiting_data, None, "0xFE cancelled {cmd:#x}");
        assert!(state.last_write_was_command);
        assert_eq!(dev.read(CMD), idle | 0x08, "only CMDDAT differs from idle");
        // A data byte now goes to the keyboard (which ACKs 0xF4), not to
        // the cancelled command, and clears CMDDAT.
        dev.write(DATA, 0xF4);
        assert_eq!(drain(&mut dev), vec![0xFA], "command {cmd:#x}");
        assert_eq!(dev.read(CMD), idle);
        assert_eq!(dev.state().awaiting_data, None);
    }
}
