//! One macro that turns a target of `minetrace_fuzz::targets` into an engine binary: libFuzzer (cargo-fuzz)
//! by default, AFL++ (cargo-afl) with `--no-default-features --features afl`.

#[cfg(feature = "afl")]
pub use afl;
#[cfg(feature = "libfuzzer")]
pub use libfuzzer_sys;

/// `engine_main!(name)`: the engine entry point for the target `name` of `minetrace_fuzz::targets::TARGETS`.
#[macro_export]
macro_rules! engine_main {
    ($name:literal) => {
        fn run(data: &[u8]) {
            match minetrace_fuzz::targets::by_name($name) {
                Some(t) => (t.run)(data),
                None => panic!("no fuzz target called {}", $name),
            }
        }
        #[cfg(feature = "libfuzzer")]
        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
        #[cfg(all(feature = "afl", not(feature = "libfuzzer")))]
        fn main() {
            $crate::afl::fuzz!(|data: &[u8]| run(data));
        }
    };
}
