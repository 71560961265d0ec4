#![cfg_attr(feature = "libfuzzer", no_main)]
minetrace_fuzz_engines::engine_main!("journal");
