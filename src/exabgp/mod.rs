//! ExaBGP compatibility: its API text commands, its configuration files, and the processes that
//! speak its API.

pub mod api;
pub mod config;
pub mod process;
