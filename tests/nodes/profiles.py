"""Fixed hardware for deterministic fit tests."""

from apps.nodes.hardware import Gpu, Hardware

GPU_BOX_24GB = Hardware(
    total_ram_gb=64.0,
    available_ram_gb=56.0,
    cpu_cores=16,
    cpu_name="AMD Ryzen 9 7950X 16-Core Processor",
    cpu_arch="x86_64",
    gpus=(Gpu(name="NVIDIA GeForce RTX 4090", vram_gb=24.0, backend="CUDA"),),
)
LAPTOP_16GB = Hardware(
    total_ram_gb=16.0,
    available_ram_gb=12.0,
    cpu_cores=8,
    cpu_name="12th Gen Intel(R) Core(TM) i7-1260P",
    cpu_arch="x86_64",
)
MAC_64GB = Hardware(
    total_ram_gb=64.0,
    available_ram_gb=40.0,
    cpu_cores=12,
    cpu_name="Apple M2 Max",
    cpu_arch="arm64",
    gpus=(Gpu(name="Apple M2 Max", vram_gb=64.0, backend="Metal", unified_memory=True),),
)
SERVER_2X80GB = Hardware(
    total_ram_gb=512.0,
    available_ram_gb=480.0,
    cpu_cores=64,
    cpu_name="AMD EPYC 9354 32-Core Processor",
    cpu_arch="x86_64",
    gpus=(Gpu(name="NVIDIA H100 80GB HBM3", vram_gb=80.0, backend="CUDA", count=2),),
)
# The parity profiles of issue 13: this CPU-only node (2 cores, 23.5 GiB; 90 % counted available, as
# llmfit's `--ram 23.5G` counts it), one 24 GB CUDA GPU (GPU_BOX_24GB) and a 32 GB Apple unified-memory Mac.
THIS_NODE_CPU = Hardware(
    total_ram_gb=23.5,
    available_ram_gb=23.5 * 0.9,
    cpu_cores=2,
    cpu_name="AMD EPYC",
    cpu_arch="x86_64",
)
MAC_32GB = Hardware(
    total_ram_gb=32.0,
    available_ram_gb=24.0,
    cpu_cores=12,
    cpu_name="Apple M2 Pro",
    cpu_arch="arm64",
    gpus=(Gpu(name="Apple M2 Pro", vram_gb=32.0, backend="Metal", unified_memory=True),),
)
# llmfit's what-if machine `--memory 24G --ram 64G --cpu-cores 16`: a "User-specified GPU" of 24 GB (CUDA, its
# bandwidth unknown: speed from the backend constant), 64 GB of RAM of which 90 % available, 16 cores.
CUDA_24GB_WHAT_IF = Hardware(
    total_ram_gb=64.0,
    available_ram_gb=64.0 * 0.9,
    cpu_cores=16,
    cpu_name="AMD EPYC",
    cpu_arch="x86_64",
    gpus=(Gpu(name="User-specified GPU", vram_gb=24.0, backend="CUDA"),),
)
