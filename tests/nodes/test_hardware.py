"""Hardware detection: true on this machine, never crashing, and right on multi-GPU, unified memory
and integrated GPUs (parsers fed with what the drivers print or expose)."""

import json
import sys

import psutil
import pytest

from apps.nodes import hardware
from apps.nodes.gpu_bandwidth import gpu_bandwidth_gbps
from apps.nodes.hardware import (
    Gpu,
    Hardware,
    amd_gpus,
    group_gpus,
    hardware_cache_clear,
    hardware_detect,
    hardware_from_system_dict,
    hardware_live,
    linux_cpu_name,
    nvidia_gpus,
    parse_nvidia_smi,
)
from tests.nodes.profiles import GPU_BOX_24GB, LAPTOP_16GB, MAC_64GB, SERVER_2X80GB


@pytest.fixture
def detected(settings):
    settings.MODELYARD_NODES_HARDWARE_FILE = ""
    hardware_cache_clear()
    yield hardware_detect()
    hardware_cache_clear()


def test_detection_reports_this_machines_ram_and_cpus(detected):
    memory = psutil.virtual_memory()

    assert detected.total_ram_gb == pytest.approx(memory.total / 1024**3)
    assert 0 < detected.available_ram_gb <= detected.total_ram_gb
    assert detected.cpu_cores == psutil.cpu_count(logical=True)
    assert detected.cpu_name and detected.cpu_arch


def test_fits_use_a_snapshot_refreshed_on_the_interval_while_system_shows_live_ram(detected, settings, monkeypatch):
    settings.MODELYARD_NODES_HARDWARE_TTL = 3600
    fake = type("Memory", (), {"total": 1 * 1024**3, "available": 3 * 1024**3})
    monkeypatch.setattr(hardware.psutil, "virtual_memory", lambda: fake())

    again = hardware_detect()

    assert again == detected  # the snapshot, available RAM included: fit levels do not flap with it
    assert hardware_live().available_ram_gb == 3.0  # what /api/v1/system shows: read now
    settings.MODELYARD_NODES_HARDWARE_TTL = 0  # the refresh interval has passed
    assert (hardware_detect().total_ram_gb, hardware_detect().available_ram_gb) == (1.0, 3.0)


def test_without_nvml_or_nvidia_smi_there_are_no_nvidia_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # the optional package is not installed
    monkeypatch.setenv("PATH", "/nonexistent")

    assert nvidia_gpus(total_ram_gb=16.0) == []


def test_nvidia_smi_output_groups_identical_cards_into_one_entry_with_a_count():
    output = "NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n"
    gpus = group_gpus(parse_nvidia_smi(output, total_ram_gb=512.0))
    server = Hardware(total_ram_gb=512, available_ram_gb=480, cpu_cores=64, cpu_name="EPYC", gpus=gpus)

    assert gpus == (Gpu("NVIDIA H100 80GB HBM3", 81559 / 1024, "CUDA", count=2),)
    assert (server.gpu_count, server.gpu_vram_gb, server.total_gpu_vram_gb) == (2, 81559 / 1024, 2 * 81559 / 1024)
    assert server.as_system_dict()["gpus"][0]["count"] == 2


def test_a_gpu_without_dedicated_memory_shares_the_system_ram():
    (spark,) = parse_nvidia_smi("NVIDIA GB10, [N/A]\n", total_ram_gb=119.7)
    machine = Hardware(total_ram_gb=119.7, available_ram_gb=100, cpu_cores=20, cpu_name="GB10", gpus=(spark,))

    assert (spark.vram_gb, spark.unified_memory) == (119.7, True)
    assert (machine.unified_memory, machine.total_gpu_vram_gb, machine.backend) == (True, 119.7, "CUDA")


def make_drm_card(root, name: str, vendor: str, vram_bytes: int | None, product: str = "") -> None:
    device = root / "class" / "drm" / name / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    (device / "device").write_text("0x744c\n")
    if vram_bytes is not None:
        (device / "mem_info_vram_total").write_text(f"{vram_bytes}\n")
    if product:
        (device / "product_name").write_text(product + "\n")


def test_amd_discrete_gpus_are_read_from_sysfs_and_integrated_ones_left_out(tmp_path):
    make_drm_card(tmp_path, "card0", "0x1002", 24 * 1024**3, "Radeon RX 7900 XTX")
    make_drm_card(tmp_path, "card1", "0x1002", 512 * 1024**2)  # an APU's carve-out
    make_drm_card(tmp_path, "card2", "0x10de", 24 * 1024**3)  # NVIDIA: NVML's business
    make_drm_card(tmp_path, "card3", "0x1002", 16 * 1024**3)  # no product name file
    (tmp_path / "class" / "drm" / "card0-DP-1").mkdir()  # a connector, not a device

    assert amd_gpus(tmp_path) == [
        Gpu("Radeon RX 7900 XTX", 24.0, "ROCm"),
        Gpu("AMD GPU 0x744c", 16.0, "ROCm"),
    ]


def test_the_cpu_name_comes_from_cpuinfo_or_the_device_tree(tmp_path):
    x86 = "processor\t: 0\nmodel name\t: Intel(R) Core(TM) Ultra 7 165U\n"
    arm = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd0b\n"
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "model").write_text("Raspberry Pi 5 Model B Rev 1.0\x00")

    assert linux_cpu_name(x86, tmp_path) == "Intel(R) Core(TM) Ultra 7 165U"
    assert linux_cpu_name(arm, tmp_path) == "Raspberry Pi 5 Model B Rev 1.0"
    assert linux_cpu_name(arm, tmp_path / "missing") == ""


@pytest.mark.parametrize("profile", [GPU_BOX_24GB, LAPTOP_16GB, MAC_64GB, SERVER_2X80GB])
def test_a_system_report_reads_back_as_the_same_hardware(profile):
    assert hardware_from_system_dict(json.loads(json.dumps(profile.as_system_dict()))) == profile


def test_a_report_of_another_tool_without_gpus_list_or_arch_still_reads():
    report = {
        "total_ram_gb": 62.23,
        "available_ram_gb": 41.08,
        "cpu_cores": 14,
        "cpu_name": "Intel(R) Core(TM) Ultra 7 165U",
        "has_gpu": True,
        "gpu_vram_gb": 24.0,
        "gpu_name": "NVIDIA RTX 4090",
        "gpu_count": 1,
        "unified_memory": False,
        "backend": "CUDA",
    }
    machine = hardware_from_system_dict(report)

    assert (machine.gpu_name, machine.total_gpu_vram_gb, machine.backend, machine.cpu_arch) == (
        "NVIDIA RTX 4090",
        24.0,
        "CUDA",
        "x86_64",
    )
    with pytest.raises(ValueError, match="invalid hardware description"):
        hardware_from_system_dict({"cpu_cores": 4})


def test_the_main_gpu_group_is_the_one_with_the_most_memory():
    machine = Hardware(
        total_ram_gb=128,
        available_ram_gb=100,
        cpu_cores=32,
        cpu_name="Threadripper",
        gpus=(Gpu("NVIDIA GeForce RTX 3060", 12.0, "CUDA"), Gpu("NVIDIA RTX A6000", 48.0, "CUDA", count=2)),
    )

    assert (machine.gpu_name, machine.gpu_vram_gb, machine.gpu_count, machine.total_gpu_vram_gb) == (
        "NVIDIA RTX A6000",
        48.0,
        3,
        108.0,
    )


@pytest.mark.parametrize(
    ("name", "bandwidth"),
    [
        ("NVIDIA GeForce RTX 4090", 1008),
        ("NVIDIA GeForce RTX 4070 Ti SUPER", 672),
        ("NVIDIA GeForce RTX 4070", 504),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", 576),
        ("NVIDIA GeForce RTX 5090 Laptop GPU", None),  # not its desktop twin's 1792 GB/s
        ("NVIDIA H100 80GB HBM3", 3350),
        ("NVIDIA H100 PCIe", 2000),
        ("NVIDIA A100-SXM4-80GB", 2039),
        ("NVIDIA A100 80GB PCIe", 1935),
        ("NVIDIA A100-PCIE-40GB", 1555),
        ("NVIDIA A10G", 600),
        ("Tesla T4", 320),
        ("AMD Radeon RX 7900 XTX", 960),
        ("AMD Instinct MI300X", 5300),
        ("Apple M2 Max", 400),
        ("Apple M4", 120),
        ("NVIDIA Mystery Card", None),
        (None, None),
    ],
)
def test_the_bandwidth_table_knows_common_gpus(name, bandwidth):
    assert gpu_bandwidth_gbps(name) == bandwidth
