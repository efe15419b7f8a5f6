//! Arbitrary UTF-8 into `rhi::exabgp::api::parse`: it must answer (a command or an error) and never
//! panic; a command must print back, in ExaBGP syntax, to text that parses to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rhi::exabgp::api::{parse, MAX_LINE};

fuzz_target!(|line: &str| {
    if let Ok(command) = parse(line) {
        let printed = command.to_string();
        // Normalised spellings may outgrow a line (`1` → `0:1`): only then can it not be read back.
        if printed.len() <= MAX_LINE {
            assert_eq!(parse(&printed), Ok(command), "{line:?} printed as {printed:?}");
        }
    }
});
