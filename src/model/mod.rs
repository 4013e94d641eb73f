//! The pure reducer over the event stream (`Model::apply`), shared by the TUI and the headless reporter.
