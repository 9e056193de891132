//! Regenerates `src/proto/*.rs` from the vendored `.proto` files under `proto/`.
//!
//! Run from the repository root:
//! `cargo run --manifest-path tools/protogen/Cargo.toml`
//! Optional: `--descriptor-out PATH` also writes the compiled `FileDescriptorSet` (without
//! source info) so it can be compared against the descriptors shipped in a TensorFlow wheel.

use std::path::PathBuf;

use prost::Message;

/// Root files to compile; their imports are pulled in automatically.
const FILES: &[&str] = &[
    // Checkpoint (tensor bundle) closure.
    "tensorflow/core/framework/types.proto",
    "tensorflow/core/framework/tensor_shape.proto",
    "tensorflow/core/framework/tensor_slice.proto",
    "tensorflow/core/framework/versions.proto",
    "tensorflow/core/protobuf/tensor_bundle.proto",
    "tensorflow/core/protobuf/trackable_object_graph.proto",
    "tensorflow/python/training/checkpoint_state.proto",
    // DT_VARIANT payloads.
    "tensorflow/core/framework/tensor.proto",
    // SavedModel closure.
    "tensorflow/core/protobuf/saved_model.proto",
    "tensorflow/core/protobuf/fingerprint.proto",
    // tf-keras SavedModel metadata (package `third_party.py.tf_keras.protobuf`).
    "tf_keras/protobuf/saved_metadata.proto",
];

fn main() {
    let root = std::env::var_os("KERASAVE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let proto_dir = root.join("proto");
    let out_dir = root.join("src/proto");

    let mut args = std::env::args().skip(1);
    let mut descriptor_out: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--descriptor-out" => descriptor_out = args.next().map(PathBuf::from),
            other => panic!("unknown argument {other:?}"),
        }
    }

    let mut compiler = protox::Compiler::new([&proto_dir]).expect("protox compiler");
    compiler.include_source_info(true).include_imports(true);
    for f in FILES {
        if let Err(e) = compiler.open_file(f) {
            panic!("compiling {f}: {e:?}");
        }
    }
    let fds = compiler.file_descriptor_set();

    if let Some(path) = descriptor_out {
        let mut bare = fds.clone();
        for f in &mut bare.file {
            f.source_code_info = None;
        }
        std::fs::write(&path, bare.encode_to_vec()).expect("write descriptor set");
    }

    let mut config = prost_build::Config::new();
    config.btree_map(["."]).out_dir(&out_dir);
    config.compile_fds(fds).expect("prost-build");
}
