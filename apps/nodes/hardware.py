"""What this machine has: RAM, CPU and GPUs, as a `Hardware` description the fit scoring takes.

Detection is separate from scoring so that any hardware (a test profile, a remote node's last
report, a file given by MODELYARD_NODES_HARDWARE_FILE) can be scored the same way. Detection never
raises: a library or device that cannot be read is left out, and what can be read is reported.

The usual ways such tools get VRAM wrong are handled here:
- several GPUs: identical cards are grouped with a count, and the fit pool is the sum over every
  card of the main backend (llama.cpp splits layers across them);
- unified memory (Apple silicon, NVIDIA GB10/Jetson where NVML reports no dedicated memory): the GPU
  "VRAM" is the system RAM, of which the scoring lets the GPU use a fraction;
- integrated GPUs: only NVIDIA (NVML), AMD with at least 2 GiB of dedicated VRAM, and Apple silicon
  count as GPUs; an APU's small VRAM carve-out is not a device to load models on.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

from apps.core.errors import Unavailable

logger = logging.getLogger(__name__)

GIB = 1024**3
AMD_MIN_DEDICATED_VRAM_GB = 2.0  # below this an AMD device is an APU's carve-out, not a GPU to load models on
COMMAND_TIMEOUT_S = 3

CUDA, ROCM, METAL = "CUDA", "ROCm", "Metal"
CPU_X86, CPU_ARM = "CPU (x86)", "CPU (ARM)"
GPU_BACKENDS = (CUDA, ROCM, METAL)


@dataclass(frozen=True)
class Gpu:
    """A group of identical GPUs."""

    name: str
    vram_gb: float | None  # per card; the system RAM for unified memory; None when it cannot be read
    backend: str
    count: int = 1
    unified_memory: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vram_gb": _round2(self.vram_gb),
            "backend": self.backend,
            "count": self.count,
            "unified_memory": self.unified_memory,
        }


@dataclass(frozen=True)
class Hardware:
    """A machine as the fit scoring sees it (sizes in GiB, shown as GB like the usual tools do)."""

    total_ram_gb: float
    available_ram_gb: float
    cpu_cores: int
    cpu_name: str
    cpu_arch: str = "x86_64"
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    @property
    def main_gpu(self) -> Gpu | None:
        """The group with the most memory: it decides the backend, the name and the per-card VRAM."""
        usable = [gpu for gpu in self.gpus if gpu.vram_gb]
        if not usable:
            return self.gpus[0] if self.gpus else None
        return max(usable, key=lambda gpu: (gpu.vram_gb or 0) * gpu.count)

    @property
    def pool_gpus(self) -> tuple[Gpu, ...]:
        """Every GPU of the main backend: one runtime process can split a model across these."""
        main = self.main_gpu
        return tuple(gpu for gpu in self.gpus if main and gpu.backend == main.backend)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    @property
    def unified_memory(self) -> bool:
        main = self.main_gpu
        return bool(main and main.unified_memory)

    @property
    def is_arm(self) -> bool:
        return self.cpu_arch.lower() in {"arm64", "aarch64", "arm", "armv8l", "armv7l"}

    @property
    def backend(self) -> str:
        main = self.main_gpu
        if main:
            return main.backend
        return CPU_ARM if self.is_arm else CPU_X86

    @property
    def gpu_name(self) -> str | None:
        main = self.main_gpu
        return main.name if main else None

    @property
    def gpu_vram_gb(self) -> float | None:
        main = self.main_gpu
        return main.vram_gb if main else None

    @property
    def gpu_count(self) -> int:
        return sum(gpu.count for gpu in self.pool_gpus)

    @property
    def total_gpu_vram_gb(self) -> float | None:
        """VRAM of every card in the pool together; None when it cannot be read."""
        known = [gpu for gpu in self.pool_gpus if gpu.vram_gb]
        if not known:
            return None
        if self.unified_memory:
            return self.gpu_vram_gb  # one shared pool, however many devices see it
        return sum((gpu.vram_gb or 0.0) * gpu.count for gpu in known)

    @property
    def largest_gpu_vram_gb(self) -> float | None:
        known = [gpu.vram_gb for gpu in self.pool_gpus if gpu.vram_gb]
        return max(known) if known else None

    def as_system_dict(self) -> dict[str, Any]:
        """The spec's `system` object, plus `total_gpu_vram_gb` and `cpu_arch`."""
        return {
            "total_ram_gb": _round2(self.total_ram_gb),
            "available_ram_gb": _round2(self.available_ram_gb),
            "cpu_cores": self.cpu_cores,
            "cpu_name": self.cpu_name,
            "has_gpu": self.has_gpu,
            "gpu_vram_gb": _round2(self.gpu_vram_gb),
            "gpu_name": self.gpu_name,
            "gpu_count": self.gpu_count,
            "unified_memory": self.unified_memory,
            "backend": self.backend,
            "gpus": [gpu.as_dict() for gpu in self.gpus],
            "total_gpu_vram_gb": _round2(self.total_gpu_vram_gb),
            "cpu_arch": self.cpu_arch,
        }


def hardware_from_system_dict(system: dict[str, Any]) -> Hardware:
    """A `Hardware` from the spec's `system` object: a remote node's report or a profile file."""
    if not isinstance(system, dict):
        raise ValueError("the hardware description must be a JSON object")
    try:
        gpus = tuple(
            Gpu(
                name=str(item.get("name") or "GPU"),
                vram_gb=float(item["vram_gb"]) if item.get("vram_gb") is not None else None,
                backend=str(item.get("backend") or system.get("backend") or CUDA),
                count=int(item.get("count") or 1),
                unified_memory=bool(item.get("unified_memory", False)),
            )
            for item in system.get("gpus") or []
        )
        if not gpus and system.get("has_gpu") and system.get("backend") in GPU_BACKENDS:
            gpus = (
                Gpu(
                    name=str(system.get("gpu_name") or "GPU"),
                    vram_gb=float(system["gpu_vram_gb"]) if system.get("gpu_vram_gb") is not None else None,
                    backend=str(system["backend"]),
                    count=int(system.get("gpu_count") or 1),
                    unified_memory=bool(system.get("unified_memory", False)),
                ),
            )
        cpu_arch = system.get("cpu_arch")
        if not cpu_arch:
            arm = system.get("backend") in {CPU_ARM, METAL}
            cpu_arch = "arm64" if arm else "x86_64"
        return Hardware(
            total_ram_gb=float(system["total_ram_gb"]),
            available_ram_gb=float(system.get("available_ram_gb", system["total_ram_gb"])),
            cpu_cores=int(system.get("cpu_cores") or 1),
            cpu_name=str(system.get("cpu_name") or "unknown CPU"),
            cpu_arch=str(cpu_arch),
            gpus=gpus,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"invalid hardware description: {type(error).__name__}: {error}") from None


# --- detection --------------------------------------------------------------------------------------


_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"hardware": None, "at": 0.0, "key": None}


def hardware_detect() -> Hardware:
    """This machine's hardware snapshot: detected on first use, then again every MODELYARD_NODES_HARDWARE_TTL
    seconds (available RAM included, so that two fits a second apart agree), or the profile in
    MODELYARD_NODES_HARDWARE_FILE."""
    profile_file = settings.MODELYARD_NODES_HARDWARE_FILE
    with _cache_lock:
        fresh = time.monotonic() - _cache["at"] < settings.MODELYARD_NODES_HARDWARE_TTL
        if _cache["hardware"] is None or not fresh or _cache["key"] != profile_file:
            _cache["hardware"] = _profile_from_file(Path(profile_file)) if profile_file else _detect_static()
            _cache["at"], _cache["key"] = time.monotonic(), profile_file
        return _cache["hardware"]


def hardware_live() -> Hardware:
    """The snapshot with the available RAM read now: what /api/v1/system shows (a declared profile as it is)."""
    hardware = hardware_detect()
    if settings.MODELYARD_NODES_HARDWARE_FILE:
        return hardware  # a declared profile: its available RAM is part of the declaration
    return replace(hardware, available_ram_gb=_available_ram_gb(hardware.available_ram_gb))


def hardware_cache_clear() -> None:
    with _cache_lock:
        _cache.update(hardware=None, at=0.0, key=None)


# --- what-if hardware -------------------------------------------------------------------------------

# GPUs a what-if request may name (`gpu=`): memory per card (GiB, as drivers report it) and backend. For a
# unified-memory device (Apple silicon, GB10, Jetson) the memory is the whole machine's, of its smallest
# common configuration (`ram_gb` sizes another); MEMORY_VARIANTS lists the others.
KNOWN_GPUS: dict[str, tuple[float, str]] = {
    "NVIDIA GeForce RTX 5090": (32.0, CUDA), "NVIDIA GeForce RTX 5080": (16.0, CUDA),
    "NVIDIA GeForce RTX 5070 Ti": (16.0, CUDA), "NVIDIA GeForce RTX 5070": (12.0, CUDA),
    "NVIDIA GeForce RTX 5060 Ti": (16.0, CUDA), "NVIDIA GeForce RTX 4090": (24.0, CUDA),
    "NVIDIA GeForce RTX 4080 SUPER": (16.0, CUDA), "NVIDIA GeForce RTX 4080": (16.0, CUDA),
    "NVIDIA GeForce RTX 4070 Ti SUPER": (16.0, CUDA), "NVIDIA GeForce RTX 4070 Ti": (12.0, CUDA),
    "NVIDIA GeForce RTX 4070": (12.0, CUDA), "NVIDIA GeForce RTX 4060 Ti": (16.0, CUDA),
    "NVIDIA GeForce RTX 4060": (8.0, CUDA), "NVIDIA GeForce RTX 3090 Ti": (24.0, CUDA),
    "NVIDIA GeForce RTX 3090": (24.0, CUDA), "NVIDIA GeForce RTX 3080": (10.0, CUDA),
    "NVIDIA GeForce RTX 3060": (12.0, CUDA), "NVIDIA RTX 6000 Ada Generation": (48.0, CUDA),
    "NVIDIA RTX A6000": (48.0, CUDA), "NVIDIA RTX A5000": (24.0, CUDA), "NVIDIA RTX A4000": (16.0, CUDA),
    "NVIDIA L40S": (48.0, CUDA), "NVIDIA L4": (24.0, CUDA), "NVIDIA A10": (24.0, CUDA),
    "NVIDIA A100 40GB": (40.0, CUDA), "NVIDIA A100 80GB": (80.0, CUDA), "NVIDIA H100 80GB HBM3": (80.0, CUDA),
    "NVIDIA H200": (141.0, CUDA), "NVIDIA B200": (180.0, CUDA), "Tesla T4": (16.0, CUDA),
    "Tesla V100": (16.0, CUDA), "AMD Radeon RX 7900 XTX": (24.0, ROCM), "AMD Radeon RX 7900 XT": (20.0, ROCM),
    "AMD Radeon RX 6900 XT": (16.0, ROCM), "AMD Instinct MI300X": (192.0, ROCM),
    "AMD Instinct MI250X": (128.0, ROCM), "NVIDIA GB10": (128.0, CUDA),
    "NVIDIA Jetson AGX Orin 32GB": (32.0, CUDA), "NVIDIA Jetson AGX Orin 64GB": (64.0, CUDA),
    "NVIDIA Jetson Orin NX 8GB": (8.0, CUDA), "NVIDIA Jetson Orin NX 16GB": (16.0, CUDA),
    "NVIDIA Jetson Orin Nano 8GB": (8.0, CUDA),
    "Apple M1 Max": (32.0, METAL), "Apple M2 Pro": (16.0, METAL), "Apple M2 Max": (32.0, METAL),
    "Apple M2 Ultra": (64.0, METAL), "Apple M3 Pro": (18.0, METAL), "Apple M3 Max": (36.0, METAL),
    "Apple M4 Pro": (24.0, METAL), "Apple M4 Max": (36.0, METAL),
}  # fmt: skip
UNIFIED_MEMORY_GPUS = frozenset(
    name for name in KNOWN_GPUS if name.startswith(("Apple ", "NVIDIA GB10", "NVIDIA Jetson"))
)
# Names without the memory size (or product line) that several known GPUs answer to: the first, smallest, is used.
GPU_FAMILIES: dict[str, tuple[str, ...]] = {
    "A100": ("NVIDIA A100 40GB", "NVIDIA A100 80GB"),
    "H100": ("NVIDIA H100 80GB HBM3",),
    "DGX Spark": ("NVIDIA GB10",),
    "Jetson Orin": ("NVIDIA Jetson Orin Nano 8GB", "NVIDIA Jetson Orin NX 8GB", "NVIDIA Jetson Orin NX 16GB",
                    "NVIDIA Jetson AGX Orin 32GB", "NVIDIA Jetson AGX Orin 64GB"),
    "Jetson AGX Orin": ("NVIDIA Jetson AGX Orin 32GB", "NVIDIA Jetson AGX Orin 64GB"),
    "Jetson Orin NX": ("NVIDIA Jetson Orin NX 8GB", "NVIDIA Jetson Orin NX 16GB"),
    "Jetson Orin Nano": ("NVIDIA Jetson Orin Nano 8GB",),
}  # fmt: skip
# Unified-memory machines sold with several memory sizes (GB): the known GPU stands for the smallest.
MEMORY_VARIANTS: dict[str, tuple[float, ...]] = {
    "Apple M1 Max": (32, 64), "Apple M2 Pro": (16, 32), "Apple M2 Max": (32, 64, 96), "Apple M2 Ultra": (64, 128, 192),
    "Apple M3 Pro": (18, 36), "Apple M3 Max": (36, 48, 64, 96, 128), "Apple M4 Pro": (24, 48, 64),
    "Apple M4 Max": (36, 48, 64, 128),
}  # fmt: skip
_GPU_NAME_NOISE = re.compile(r"\b(nvidia|geforce|amd|radeon|instinct|tesla|generation|apple)\b|[^a-z0-9]")


def _gpu_key(name: str) -> str:
    return _GPU_NAME_NOISE.sub("", name.lower())


_KNOWN_GPU_KEYS = {_gpu_key(name): (name,) for name in KNOWN_GPUS} | {
    _gpu_key(family): variants for family, variants in GPU_FAMILIES.items()
}


@dataclass(frozen=True)
class KnownGpu:
    """The known GPU a what-if `gpu=` names, and a note when the name stood for one of several variants."""

    name: str
    note: str | None = None


def gpu_resolve(name: str) -> KnownGpu | None:
    """The known GPU `name` means, whatever its spacing, case and vendor words ("rtx4090", "RTX 4090", "M2 Max").

    A name several known GPUs answer to ("A100": 40 and 80 GB) means the smallest, as a capacity planner
    sizing for the worst case expects; so does a unified-memory machine sold with several memory sizes
    (`MEMORY_VARIANTS`). The note says which was taken and how to name another. None when unknown."""
    variants = _KNOWN_GPU_KEYS.get(_gpu_key(name))
    if not variants:
        return None
    chosen = variants[0]
    if len(variants) > 1:
        others = ", ".join(variants[1:])
        return KnownGpu(chosen, f"{name.strip()!r} has several variants: scored as {chosen}, the smallest "
                                f"(others: {others}; name one to score it)")  # fmt: skip
    sizes = MEMORY_VARIANTS.get(chosen)
    if sizes:
        listed = ", ".join(f"{size:g}" for size in sizes)
        return KnownGpu(chosen, f"{chosen} comes with {listed} GB: scored with {sizes[0]:g} GB, the smallest "
                                f"(give ram_gb for another)")  # fmt: skip
    return KnownGpu(chosen)


def known_gpu(name: str) -> str | None:
    """The name of the known GPU `name` means (`gpu_resolve`), or None."""
    resolved = gpu_resolve(name)
    return resolved.name if resolved else None


def hardware_what_if(
    hardware: Hardware,
    *,
    ram_gb: float | None = None,
    vram_gb: float | None = None,
    cpu_cores: int | None = None,
    gpu: str | None = None,
) -> Hardware:
    """`hardware` with planned changes, as llmfit applies its overrides: `ram_gb` is the total RAM (90 % of
    it available; on unified memory also the GPU's); `vram_gb` the main GPU's per-card VRAM (a GPU is
    added when there is none; 0 plans a machine without one); `gpu` a known GPU replacing the main one
    (`gpu_resolve`): a unified-memory one (Apple silicon, GB10, Jetson) is a whole ARM machine with its
    memory as RAM (90 % available) unless `ram_gb` says otherwise; `cpu_cores` the core count. Raises
    ValueError for an unknown GPU name."""
    if gpu is not None:
        name = known_gpu(gpu)
        if name is None:
            raise ValueError(gpu)
        memory, backend = KNOWN_GPUS[name]
        unified = name in UNIFIED_MEMORY_GPUS
        replacement = Gpu(name=name, vram_gb=memory, backend=backend, unified_memory=unified)
        hardware = replace(hardware, gpus=(replacement,))
        if unified:
            hardware = replace(hardware, total_ram_gb=memory, available_ram_gb=memory * 0.9, cpu_arch="arm64")
    if ram_gb is not None:
        gpus = tuple(replace(g, vram_gb=ram_gb) if g.unified_memory else g for g in hardware.gpus)
        hardware = replace(hardware, total_ram_gb=ram_gb, available_ram_gb=ram_gb * 0.9, gpus=gpus)
    if vram_gb == 0:  # no GPU memory is no GPU: CPU-only fits, not a 0 GB card
        hardware = replace(hardware, gpus=())
    elif vram_gb is not None:
        main = hardware.main_gpu
        if main is None:
            apple = hardware.is_arm or "apple" in hardware.cpu_name.lower()
            added = Gpu(name="User-specified GPU", vram_gb=vram_gb, backend=METAL if apple else CUDA)
            hardware = replace(hardware, gpus=(added,))
        else:
            hardware = replace(
                hardware, gpus=tuple(replace(g, vram_gb=vram_gb) if g is main else g for g in hardware.gpus)
            )
    if cpu_cores is not None:
        hardware = replace(hardware, cpu_cores=cpu_cores)
    return hardware


def _profile_from_file(path: Path) -> Hardware:
    try:
        data = json.loads(path.read_text())
        return hardware_from_system_dict(data.get("system", data) if isinstance(data, dict) else data)
    except (OSError, ValueError) as error:
        # A profile the operator asked for and that cannot be used: say so rather than report other hardware.
        raise Unavailable(f"MODELYARD_NODES_HARDWARE_FILE {path}: {error}") from None


def _available_ram_gb(fallback: float) -> float:
    try:
        return psutil.virtual_memory().available / GIB
    except Exception:  # never fail a request over a RAM reading
        return fallback


def _detect_static() -> Hardware:
    memory = _safe(lambda: psutil.virtual_memory(), None)
    total = memory.total / GIB if memory else 0.0
    available = memory.available / GIB if memory else 0.0
    system = platform.system()
    machine = platform.machine() or "unknown"
    cpu_name = _safe(lambda: cpu_model_name(system), "") or platform.processor() or machine
    gpus: list[Gpu] = []
    if system == "Darwin" and machine.lower() in {"arm64", "aarch64"}:
        gpus.append(Gpu(name=cpu_name, vram_gb=total, backend=METAL, unified_memory=True))
    else:
        gpus += _safe(lambda: nvidia_gpus(total_ram_gb=total), [])
        gpus += _safe(lambda: amd_gpus(), [])
    return Hardware(
        total_ram_gb=total,
        available_ram_gb=available,
        cpu_cores=_safe(lambda: psutil.cpu_count(logical=True), None) or os.cpu_count() or 1,
        cpu_name=cpu_name,
        cpu_arch=machine,
        gpus=group_gpus(gpus),
    )


def _safe(read: Any, default: Any) -> Any:
    try:
        return read()
    except Exception as error:  # detection degrades, it never fails
        logger.debug("hardware detection: %s: %s", type(error).__name__, error)
        return default


def group_gpus(gpus: list[Gpu]) -> tuple[Gpu, ...]:
    """Identical cards (same name, VRAM, backend) become one entry with a count."""
    groups: dict[tuple, Gpu] = {}
    for gpu in gpus:
        key = (gpu.name, None if gpu.vram_gb is None else round(gpu.vram_gb, 1), gpu.backend, gpu.unified_memory)
        seen = groups.get(key)
        groups[key] = replace(seen, count=seen.count + gpu.count) if seen else gpu
    return tuple(groups.values())


def cpu_model_name(system: str) -> str:
    if system == "Linux":
        return linux_cpu_name(Path("/proc/cpuinfo").read_text(errors="replace"), Path("/sys/firmware/devicetree"))
    if system == "Darwin":
        return _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip()
    return platform.processor()


def linux_cpu_name(cpuinfo: str, devicetree: Path) -> str:
    """x86 has `model name`; ARM boards often have only `Hardware`, `Model` or a device-tree model."""
    for key in ("model name", "Hardware", "Model", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if match:
            return match.group(1).strip()
    model_file = devicetree / "base" / "model"
    if model_file.exists():
        return model_file.read_text(errors="replace").strip("\x00\n ")
    return ""


def _run(command: list[str]) -> str:
    if not shutil.which(command[0]):
        return ""
    return subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False).stdout


# --- NVIDIA -----------------------------------------------------------------------------------------


def nvidia_gpus(*, total_ram_gb: float) -> list[Gpu]:
    """NVIDIA GPUs through NVML (nvidia-ml-py), else `nvidia-smi`; [] when neither is there."""
    try:
        return _nvml_gpus(total_ram_gb=total_ram_gb)
    except ImportError:
        pass
    except Exception as error:  # no driver, no device, NVML too old: try the command line
        logger.debug("NVML unavailable: %s", error)
    output = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    return parse_nvidia_smi(output, total_ram_gb=total_ram_gb)


def _nvml_gpus(*, total_ram_gb: float) -> list[Gpu]:
    import pynvml

    pynvml.nvmlInit()
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            try:
                vram = pynvml.nvmlDeviceGetMemoryInfo(handle).total / GIB
            except pynvml.NVMLError:
                vram = None  # GB10 / Jetson: no dedicated memory to report
            gpus.append(_nvidia_gpu(name, vram, total_ram_gb=total_ram_gb))
        return gpus
    finally:
        pynvml.nvmlShutdown()


def parse_nvidia_smi(output: str, *, total_ram_gb: float) -> list[Gpu]:
    """`name, memory.total` CSV lines (MiB; "[N/A]" where there is no dedicated memory)."""
    gpus = []
    for line in output.splitlines():
        if "," not in line:
            continue
        name, memory = (part.strip() for part in line.rsplit(",", 1))
        try:
            vram = float(memory) / 1024
        except ValueError:
            vram = None
        gpus.append(_nvidia_gpu(name, vram, total_ram_gb=total_ram_gb))
    return gpus


def _nvidia_gpu(name: str, vram_gb: float | None, *, total_ram_gb: float) -> Gpu:
    if vram_gb is None and total_ram_gb:
        # A GPU without dedicated memory shares the system RAM (GB10, Jetson): unified memory.
        return Gpu(name=name, vram_gb=total_ram_gb, backend=CUDA, unified_memory=True)
    return Gpu(name=name, vram_gb=vram_gb, backend=CUDA)


# --- AMD --------------------------------------------------------------------------------------------


def amd_gpus(sysfs: Path = Path("/sys")) -> list[Gpu]:
    """AMD GPUs from the amdgpu driver's sysfs files (what rocm-smi reads), discrete ones only."""
    gpus = []
    for device in sorted((sysfs / "class" / "drm").glob("card[0-9]*/device")):
        if not re.fullmatch(r"card\d+", device.parent.name):
            continue  # connectors (card0-DP-1) point at the same device
        if _read(device / "vendor").lower() != "0x1002":
            continue
        try:
            vram = int(_read(device / "mem_info_vram_total")) / GIB
        except ValueError:
            continue
        if vram < AMD_MIN_DEDICATED_VRAM_GB:
            continue
        name = _read(device / "product_name") or f"AMD GPU {_read(device / 'device') or ''}".strip()
        gpus.append(Gpu(name=name, vram_gb=vram, backend=ROCM))
    return gpus


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
