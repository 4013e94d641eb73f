//! Turning command-line arguments into engine configuration.
