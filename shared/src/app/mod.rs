//! Application services: what the four functions do, written against the ports.
