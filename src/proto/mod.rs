//! prost code generated from the vendored `.proto` files under `proto/` by `tools/protogen`.
//! Do not edit the generated files; re-run `cargo run --manifest-path tools/protogen/Cargo.toml`.
// (placeholder: the generator lands next)
