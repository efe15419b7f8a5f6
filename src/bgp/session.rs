//! The tokio task that drives one peer's [`super::fsm::Fsm`] over a framed TCP connection.
