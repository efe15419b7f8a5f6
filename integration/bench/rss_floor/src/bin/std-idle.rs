//! The Rust-std baseline under rss-floor: same toolchain and profile, no crates, no runtime; it
//! only sleeps. rss-floor minus this is what the mandated crates (and tokio's idle state) cost.
fn main() {
    std::thread::sleep(std::time::Duration::from_secs(30));
}
