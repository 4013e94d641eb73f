//! Making strings that came from the network safe to show on a terminal.
