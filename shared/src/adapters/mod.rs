//! Adapters: the ports implemented on real technology.
pub mod egress;
