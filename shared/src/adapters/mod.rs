//! Adapters: the ports implemented on real technology.
