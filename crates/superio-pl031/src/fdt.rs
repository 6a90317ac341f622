//! The device-tree node a VMM must emit for Linux to find and probe the RTC,
//! as plain data its FDT writer can consume (no FDT library dependency).
//!
//! Every property carries the reason it is needed, from CONFORMANCE §3.1: in
//! short, `"arm,primecell"` makes Linux create an AMBA device, the AMBA bus
//! reads the ID registers at the end of `reg` through the `apb_pclk` clock and
//! refuses to probe without it, and `interrupts` is what makes alarms (and so
//! `hwclock`) work.

use crate::WINDOW_SIZE;

/// `interrupts` cell 0 for a shared peripheral interrupt on an Arm GIC
/// (`GIC_SPI` in `dt-bindings/interrupt-controller/arm-gic.h`).
pub const GIC_SPI: u32 = 0;
/// `interrupts` cell 2: active-high level (`IRQ_TYPE_LEVEL_HIGH` in
/// `dt-bindings/interrupt-controller/irq.h`). RTCINTR is a level that stays
/// high until RTCICR is written (TRM §2.1).
pub const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
/// A frequency for the `apb_pclk` fixed clock. Linux only enables the clock
/// and never uses its rate for the PL031; 24 MHz is what QEMU's `virt` board
/// declares, so guests see a familiar value.
pub const APB_PCLK_HZ: u32 = 24_000_000;

/// A property value, in the shapes FDT writers take.
///
/// ```
/// use superio_pl031::fdt::PropValue;
/// let v = PropValue::Strings(vec!["arm,pl031", "arm,primecell"]);
/// assert!(matches!(v, PropValue::Strings(ref s) if s.len() == 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    /// A string list (`compatible`, `clock-names`).
    Strings(Vec<&'static str>),
    /// 32-bit cells (`interrupts`, `clocks`, `phandle`).
    Cells(Vec<u32>),
    /// 64-bit values, each written as two cells (`reg` with `#address-cells`
    /// and `#size-cells` = 2, the arm64 convention).
    Cells64(Vec<u64>),
}

/// One property: name, value and why the guest needs it.
///
/// ```
/// use superio_pl031::fdt::{pl031_node, Pl031NodeConfig};
///
/// let node = pl031_node(&Pl031NodeConfig { base: 0x0901_0000, spi: 2, apb_pclk_phandle: 1 });
/// let clock_names = node.property("clock-names").unwrap();
/// assert!(clock_names.reason.contains("apb_pclk"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property name.
    pub name: &'static str,
    /// Property value.
    pub value: PropValue,
    /// Why it must be there (documentation for the VMM author; not emitted).
    pub reason: &'static str,
}

/// A node: its name (`name@unit-address`) and properties.
///
/// ```
/// use superio_pl031::fdt::{apb_pclk_node, PropValue};
///
/// let clk = apb_pclk_node(1);
/// assert_eq!(clk.name, "apb-pclk");
/// assert_eq!(clk.property("phandle").unwrap().value, PropValue::Cells(vec![1]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Node name, e.g. `pl031@9010000`.
    pub name: String,
    /// Properties in the order they should be written.
    pub properties: Vec<Property>,
}

impl Node {
    /// The property called `name`, if present.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Where the VMM put the RTC.
///
/// ```
/// use superio_pl031::fdt::Pl031NodeConfig;
/// let cfg = Pl031NodeConfig { base: 0x0901_0000, spi: 2, apb_pclk_phandle: 0x8000 };
/// assert_eq!(cfg.spi, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pl031NodeConfig {
    /// Guest-physical base address of the 4 KiB register window.
    pub base: u64,
    /// The SPI number (GIC INTID minus 32) the VMM routes the RTC's interrupt to.
    pub spi: u32,
    /// Phandle of the `apb_pclk` fixed-clock node (see [`apb_pclk_node`]).
    pub apb_pclk_phandle: u32,
}

/// The RTC's node. Assumes the parent bus has `#address-cells = <2>` and
/// `#size-cells = <2>` and a GIC with three interrupt cells (arm64 `virt`-style
/// machines).
///
/// ```
/// use superio_pl031::fdt::{pl031_node, Pl031NodeConfig, PropValue};
///
/// let node = pl031_node(&Pl031NodeConfig { base: 0x0901_0000, spi: 2, apb_pclk_phandle: 1 });
/// assert_eq!(node.name, "pl031@9010000");
/// assert_eq!(
///     node.property("compatible").unwrap().value,
///     PropValue::Strings(vec!["arm,pl031", "arm,primecell"])
/// );
/// assert_eq!(node.property("reg").unwrap().value, PropValue::Cells64(vec![0x0901_0000, 0x1000]));
/// assert_eq!(node.property("interrupts").unwrap().value, PropValue::Cells(vec![0, 2, 4]));
/// ```
pub fn pl031_node(cfg: &Pl031NodeConfig) -> Node {
    Node {
        name: format!("pl031@{:x}", cfg.base),
        properties: vec![
            Property {
                name: "compatible",
                value: PropValue::Strings(vec!["arm,pl031", "arm,primecell"]),
                reason: "\"arm,primecell\" makes Linux create an AMBA device for the node \
                         (of_amba_device_create); \"arm,pl031\" names the binding. Without \
                         \"arm,primecell\" no driver ever looks at the node.",
            },
            Property {
                name: "reg",
                value: PropValue::Cells64(vec![cfg.base, u64::from(WINDOW_SIZE)]),
                reason: "The AMBA bus reads the peripheral and PrimeCell IDs at size-0x20 and \
                         size-0x10 from the end of this region; the size must be 0x1000 so \
                         they land on 0xFE0-0xFFC where the device decodes them.",
            },
            Property {
                name: "interrupts",
                value: PropValue::Cells(vec![GIC_SPI, cfg.spi, IRQ_TYPE_LEVEL_HIGH]),
                reason: "Without an interrupt rtc-pl031 clears its alarm feature: RTC_UIE_ON \
                         fails, hwclock falls back to busy-polling and rtcwake cannot work. \
                         Level-high because RTCINTR stays asserted until RTCICR is written.",
            },
            Property {
                name: "clocks",
                value: PropValue::Cells(vec![cfg.apb_pclk_phandle]),
                reason: "amba_read_periphid and amba_probe get and enable the \"apb_pclk\" \
                         clock with no fallback; without it the ID read is deferred forever \
                         and the RTC never probes.",
            },
            Property {
                name: "clock-names",
                value: PropValue::Strings(vec!["apb_pclk"]),
                reason: "The AMBA bus looks the bus clock up by the name apb_pclk.",
            },
        ],
    }
}

/// The fixed-clock node `clocks` points at (one per machine is enough; other
/// PrimeCells such as a PL011 share it).
///
/// ```
/// use superio_pl031::fdt::{apb_pclk_node, PropValue, APB_PCLK_HZ};
///
/// let clk = apb_pclk_node(1);
/// assert_eq!(clk.property("compatible").unwrap().value, PropValue::Strings(vec!["fixed-clock"]));
/// assert_eq!(clk.property("clock-frequency").unwrap().value, PropValue::Cells(vec![APB_PCLK_HZ]));
/// ```
pub fn apb_pclk_node(phandle: u32) -> Node {
    Node {
        name: "apb-pclk".to_string(),
        properties: vec![
            Property {
                name: "compatible",
                value: PropValue::Strings(vec!["fixed-clock"]),
                reason: "A clock Linux can get and enable with no driver of its own.",
            },
            Property {
                name: "#clock-cells",
                value: PropValue::Cells(vec![0]),
                reason: "A single clock output: consumers reference it by phandle alone.",
            },
            Property {
                name: "clock-frequency",
                value: PropValue::Cells(vec![APB_PCLK_HZ]),
                reason: "Required by the fixed-clock binding; the PL031 driver never reads it.",
            },
            Property {
                name: "clock-output-names",
                value: PropValue::Strings(vec!["clk24mhz"]),
                reason: "A readable name in /sys/kernel/debug/clk.",
            },
            Property {
                name: "phandle",
                value: PropValue::Cells(vec![phandle]),
                reason: "What the RTC's clocks property points at.",
            },
        ],
    }
}
