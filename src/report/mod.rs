//! Headless output: NDJSON events.
