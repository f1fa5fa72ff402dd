//! Fuzzes `patrol::fuzzing::tenant_config`; see that function for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| patrol::fuzzing::tenant_config(data));
