//! Pure parsers and writers for the signaling protocols: no I/O, no clock.
