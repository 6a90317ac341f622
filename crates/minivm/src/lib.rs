//! minivm: a KVM mini-VMM with a built-in guest (work in progress).
