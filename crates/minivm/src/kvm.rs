//! KVM plumbing: one VM with guest RAM, an in-kernel irqchip (PIC + IOAPIC +
//! LAPIC), irqfds, and one vCPU set up to start the built-in guest in real mode.

use std::io;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::eventfd::EventFd;

use crate::guest;
use crate::Error;

/// The only stable KVM API version.
const KVM_API_VERSION: i32 = 12;

/// Where KVM may put the three-page TSS it needs on Intel hosts (above RAM).
const TSS_ADDRESS: usize = 0xfffb_d000;

/// The VM and its one vCPU.
pub(crate) struct KvmVm {
    /// Kept so the VM lives as long as the vCPU.
    _vm: VmFd,
    pub(crate) vcpu: VcpuFd,
    /// Kept mapped for as long as KVM may access it.
    _mem: GuestMemoryMmap,
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
    move |e| Error::Kvm {
        what,
        source: io::Error::from_raw_os_error(e.errno()),
    }
}

/// Opens `/dev/kvm` and checks what minivm needs from it.
///
/// # Errors
/// [`Error::KvmUnavailable`] when `/dev/kvm` cannot be opened,
/// [`Error::KvmCapability`] when a needed capability is missing.
pub(crate) fn open_kvm() -> Result<Kvm, Error> {
    let kvm = Kvm::new().map_err(|e| Error::KvmUnavailable {
        source: io::Error::from_raw_os_error(e.errno()),
    })?;
    // KVM_GET_API_VERSION: 12 since Linux 2.6.22; anything else is not KVM.
    let version = kvm.get_api_version();
    if version != KVM_API_VERSION {
        return Err(Error::KvmUnavailable {
            source: io::Error::other(format!(
                "not a KVM device (KVM_GET_API_VERSION returned {version}, expected {KVM_API_VERSION})"
            )),
        });
    }
    for (cap, name) in [
        (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
        (Cap::Irqchip, "KVM_CAP_IRQCHIP"),
        (Cap::Irqfd, "KVM_CAP_IRQFD"),
    ] {
        if !kvm.check_extension(cap) {
            return Err(Error::KvmCapability(name));
        }
    }
    Ok(kvm)
}

/// Creates the VM: RAM with the guest image, irqchip, irqfds for `irqfds`
/// (`(eventfd, gsi)`), and a vCPU at the guest's entry point.
pub(crate) fn create_vm(
    kvm: &Kvm,
    irqfds: &[(&EventFd, u32)],
    config_byte: u8,
    tx_count: u32,
) -> Result<KvmVm, Error> {
    let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;

    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), guest::MEM_SIZE)])
        .map_err(|e| Error::Memory(e.to_string()))?;
    mem.write_slice(guest::IMAGE, GuestAddress(guest::LOAD_ADDR))
        .map_err(|e| Error::Memory(e.to_string()))?;
    mem.write_obj(config_byte, GuestAddress(guest::CONFIG_ADDR))
        .map_err(|e| Error::Memory(e.to_string()))?;
    mem.write_slice(&tx_count.to_le_bytes(), GuestAddress(guest::TX_COUNT_ADDR))
        .map_err(|e| Error::Memory(e.to_string()))?;
    let host = mem
        .get_host_address(GuestAddress(0))
        .map_err(|e| Error::Memory(e.to_string()))?;
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: guest::MEM_SIZE as u64,
        userspace_addr: host as u64,
    };
    // SAFETY: the region describes `mem`'s one mapping, exactly its size; the
    // mapping is kept alive in `KvmVm` as long as the VM and is never unmapped
    // or resized while the VM exists.
    unsafe { vm.set_user_memory_region(region) }.map_err(kvm_err("KVM_SET_USER_MEMORY_REGION"))?;

    vm.set_tss_address(TSS_ADDRESS)
        .map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
    vm.create_irq_chip()
        .map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;
    for (fd, gsi) in irqfds {
        vm.register_irqfd(fd, *gsi).map_err(kvm_err("KVM_IRQFD"))?;
    }

    let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    // Real mode, flat segment 0 (the reset state has CS = F000 base FFFF0000).
    for seg in [
        &mut sregs.cs,
        &mut sregs.ds,
        &mut sregs.es,
        &mut sregs.ss,
        &mut sregs.fs,
        &mut sregs.gs,
    ] {
        seg.base = 0;
        seg.selector = 0;
    }
    vcpu.set_sregs(&sregs).map_err(kvm_err("KVM_SET_SREGS"))?;
    let mut regs = vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
    regs.rip = guest::LOAD_ADDR;
    regs.rsp = guest::STACK_TOP;
    regs.rflags = 0x2; // bit 1 is always set; interrupts off
    vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;

    Ok(KvmVm {
        _vm: vm,
        vcpu,
        _mem: mem,
    })
}
