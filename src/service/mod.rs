//! The local durable service.
