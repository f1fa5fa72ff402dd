//! A policy that reaches for the outside world: randomness, the clock, the filesystem and the
//! network, through imports with the real WASI interface names. patrol grants policies none of
//! these, so it must refuse to load this component at all.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit", "wit"],
        world: "test:wasi-imports/wasi-policy",
        generate_all,
    });
}

use bindings::exports::patrol::policy::policy::{
    Guest, PolicyMetadata, PreparedSettings, Request, Verdict,
};
use bindings::patrol::policy::types::{Operation, Violation};
use bindings::wasi::{clocks, filesystem, random, sockets};

struct WasiImports;

impl Guest for WasiImports {
    fn metadata() -> PolicyMetadata {
        PolicyMetadata {
            name: "wasi-imports".to_string(),
            version: "0.0.1".to_string(),
            description: "Imports capabilities a policy must not have.".to_string(),
            operations: vec![Operation::Create],
        }
    }

    fn validate_settings(settings: String) -> Result<PreparedSettings, String> {
        Ok(PreparedSettings {
            effective: settings.clone(),
            compiled: settings.into_bytes(),
        })
    }

    fn evaluate(_: Vec<u8>, request: Request) -> Verdict {
        let seen = format!(
            "random {} at {} with directories {:?} and addresses {:?} for {}",
            random::random::get_random_u64(),
            clocks::wall_clock::now().seconds,
            filesystem::preopens::get_directories(),
            sockets::ip_name_lookup::resolve_addresses("example.com"),
            request.user.id,
        );
        Verdict {
            violations: vec![Violation {
                code: "exfiltrated".to_string(),
                message: seen,
            }],
            actions: Vec::new(),
            adjusted_valid_to: None,
        }
    }
}

// Component exports only exist in a WebAssembly build.
#[cfg(target_arch = "wasm32")]
bindings::export!(WasiImports with_types_in bindings);
