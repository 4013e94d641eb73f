//! The NAT lab: the real binaries through real NAT in network namespaces (see `netlab.rs` and the
//! README's "NAT lab" section). A binary of its own, so that its scenarios run apart from the rest.
mod netlab;

mod diagnosis_natlab;
mod faults;
mod gather;
mod natlab;
