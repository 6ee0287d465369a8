"""The foundation: the one bad-input error, atomic writes and hashing, the device, the environment snapshot.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "devices": ["best_device", "free_cpu_memory", "native_cpu_dtype"],
        "environment": ["package_versions", "torch_job_threads", "write_environment_snapshot"],
        "errors": ["PipelineInputError"],
        "progress": ["Progress"],
        "io": [
            "atomic_directory",
            "atomic_write_bytes",
            "atomic_write_csv",
            "atomic_write_json",
            "atomic_write_text",
            "publish_files",
            "sha256_file",
            "sha256_tree",
        ],
    },
)
