//! The sans-IO negotiation and restart state machine.
