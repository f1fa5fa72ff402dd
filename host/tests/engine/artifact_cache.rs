//! Compiled components cached on disk: a second engine loads them instead of compiling, and a
//! damaged artifact is compiled again rather than trusted.

use std::path::Path;

use patrol::{Engine, EngineConfig, Request, TenantConfig};

fn engine(cache: &Path) -> Engine {
    Engine::new(EngineConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..EngineConfig::default()
    })
    .unwrap()
}

fn example_tenant(engine: &Engine) -> patrol::Tenant {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/contoso");
    let config = TenantConfig::from_file(&root.join("tenant.toml")).unwrap();
    patrol::Tenant::load(engine, &config).unwrap()
}

fn decide(tenant: &patrol::Tenant) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/contoso");
    let json = std::fs::read_to_string(root.join("requests/create-too-long.json")).unwrap();
    tenant
        .evaluate(&Request::from_json(&json).unwrap())
        .to_json()
}

fn artifacts(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_second_engine_loads_what_the_first_compiled() {
    // Compiles the example tenant\'s components, the CEL rules\' bundle among them, on every
    // core: not while other tests measure time.
    let _machine = crate::machine::whole();
    let dir = tempfile::tempdir().unwrap();
    let expected = decide(&example_tenant(&engine(dir.path())));
    // The seed bundle, the rules bundle (for the example's rule) and the two custom components.
    let written = artifacts(dir.path());
    assert_eq!(written.len(), 4, "{written:?}");
    let modified: Vec<_> = written
        .iter()
        .map(|path| std::fs::metadata(path).unwrap().modified().unwrap())
        .collect();

    assert_eq!(decide(&example_tenant(&engine(dir.path()))), expected);
    let again: Vec<_> = written
        .iter()
        .map(|path| std::fs::metadata(path).unwrap().modified().unwrap())
        .collect();
    assert_eq!(again, modified, "loaded, not written again");
}

#[test]
fn a_damaged_artifact_is_compiled_again() {
    // Compiles the example tenant\'s components, the CEL rules\' bundle among them, on every
    // core: not while other tests measure time.
    let _machine = crate::machine::whole();
    let dir = tempfile::tempdir().unwrap();
    let expected = decide(&example_tenant(&engine(dir.path())));
    for path in artifacts(dir.path()) {
        std::fs::write(&path, b"not a compiled component").unwrap();
    }
    assert_eq!(decide(&example_tenant(&engine(dir.path()))), expected);
    for path in artifacts(dir.path()) {
        assert!(
            std::fs::metadata(&path).unwrap().len() > 1000,
            "rewritten: {}",
            path.display()
        );
    }
}
