//! tracing setup: text or JSON lines on stderr.
