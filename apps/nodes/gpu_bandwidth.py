"""Memory bandwidth of common GPUs (GB/s, vendor specifications), for the tok/s estimate.

Token generation reads every weight once per token, so it is bound by memory bandwidth. Patterns
are matched in order against the lower-cased device name; the more specific come first. Laptop
parts have far less bandwidth than the desktop cards of the same name: a laptop GPU that is not in
the table is treated as unknown (the per-backend constant is used) rather than as its desktop twin.
Where one name covers several memory configurations, the lower bandwidth is listed.
"""

import re

GPU_BANDWIDTH_GBPS: tuple[tuple[str, float], ...] = (
    # NVIDIA data centre
    (r"\bgb200\b", 8000),
    (r"\bb200\b", 8000),
    (r"\bb100\b", 8000),
    (r"\bgh200\b", 4000),
    (r"\bh200\b", 4800),
    (r"\bh100\b.*\bnvl\b", 3900),
    (r"\bh100\b.*\bpcie\b", 2000),
    (r"\bh100\b", 3350),
    (r"\bh800\b.*\bpcie\b", 2000),
    (r"\bh800\b", 3350),
    (r"\bh20\b", 4000),
    (r"\ba100\b.*\bpcie\b.*80\s*gb|\ba100\b.*80\s*gb.*\bpcie\b", 1935),
    (r"\ba100\b.*80\s*gb", 2039),
    (r"\ba100\b", 1555),
    (r"\bl40s\b", 864),
    (r"\bl40\b", 864),
    (r"\bl4\b", 300),
    (r"\ba40\b", 696),
    (r"\ba30\b", 933),
    (r"\ba10g\b", 600),
    (r"\ba10\b", 600),
    (r"\ba2\b", 200),
    (r"\bt4\b", 320),
    (r"\bv100\b", 900),
    (r"\bp100\b", 732),
    (r"\bp40\b", 347),
    (r"\bgb10\b", 273),  # DGX Spark: LPDDR5X shared with the CPU
    # NVIDIA workstation
    (r"rtx pro 6000", 1792),
    (r"rtx 6000 ada", 960),
    (r"rtx 5000 ada", 576),
    (r"rtx 4500 ada", 432),
    (r"rtx 4000 ada", 360),
    (r"rtx a6000", 768),
    (r"rtx a5000", 768),
    (r"rtx a4500", 640),
    (r"rtx a4000", 448),
    (r"quadro rtx 8000", 672),
    (r"quadro rtx 6000", 672),
    (r"titan rtx", 672),
    (r"titan v\b", 653),
    # NVIDIA GeForce laptop parts
    (r"rtx 4090 laptop", 576),
    (r"rtx 4080 laptop", 432),
    (r"rtx 4070 laptop", 256),
    (r"rtx 4060 laptop", 256),
    (r"rtx 4050 laptop", 192),
    (r"rtx 3080 ti laptop", 512),
    (r"rtx 3080 laptop", 448),
    (r"rtx 3070 ti laptop", 448),
    (r"rtx 3070 laptop", 448),
    (r"rtx 3060 laptop", 336),
    # NVIDIA GeForce desktop
    (r"rtx 5090", 1792),
    (r"rtx 5080", 960),
    (r"rtx 5070 ti", 896),
    (r"rtx 5070", 672),
    (r"rtx 5060 ti", 448),
    (r"rtx 5060", 448),
    (r"rtx 4090", 1008),
    (r"rtx 4080 super", 736),
    (r"rtx 4080", 717),
    (r"rtx 4070 ti super", 672),
    (r"rtx 4070 ti", 504),
    (r"rtx 4070 super", 504),
    (r"rtx 4070", 504),
    (r"rtx 4060 ti", 288),
    (r"rtx 4060", 272),
    (r"rtx 3090 ti", 1008),
    (r"rtx 3090", 936),
    (r"rtx 3080 ti", 912),
    (r"rtx 3080", 760),
    (r"rtx 3070 ti", 608),
    (r"rtx 3070", 448),
    (r"rtx 3060 ti", 448),
    (r"rtx 3060", 360),
    (r"rtx 3050", 224),
    (r"rtx 2080 ti", 616),
    (r"rtx 2080 super", 496),
    (r"rtx 2080", 448),
    (r"rtx 2070", 448),
    (r"rtx 2060 super", 448),
    (r"rtx 2060", 336),
    (r"gtx 1080 ti", 484),
    (r"gtx 1080", 320),
    (r"gtx 1070", 256),
    (r"gtx 1660 super", 336),
    (r"gtx 1660 ti", 288),
    (r"gtx 1660", 192),
    # AMD Instinct and Radeon
    (r"\bmi325x\b", 6000),
    (r"\bmi300[xa]\b", 5300),
    (r"\bmi250x?\b", 3277),
    (r"\bmi210\b", 1638),
    (r"\bmi100\b", 1229),
    (r"\bmi50\b", 1024),
    (r"pro w7900", 864),
    (r"pro w7800", 576),
    (r"rx 9070", 640),
    (r"rx 7900 xtx", 960),
    (r"rx 7900 xt", 800),
    (r"rx 7900 gre", 576),
    (r"rx 7800 xt", 624),
    (r"rx 7700 xt", 432),
    (r"rx 7600", 288),
    (r"rx 6950 xt", 576),
    (r"rx 6900 xt", 512),
    (r"rx 6800", 512),
    (r"rx 6700 xt", 384),
    # Apple silicon (unified memory)
    (r"apple m1 ultra", 800),
    (r"apple m1 max", 400),
    (r"apple m1 pro", 200),
    (r"apple m1\b", 68),
    (r"apple m2 ultra", 800),
    (r"apple m2 max", 400),
    (r"apple m2 pro", 200),
    (r"apple m2\b", 100),
    (r"apple m3 ultra", 819),
    (r"apple m3 max", 300),
    (r"apple m3 pro", 150),
    (r"apple m3\b", 100),
    (r"apple m4 max", 410),
    (r"apple m4 pro", 273),
    (r"apple m4\b", 120),
)

_COMPILED = tuple((re.compile(pattern), bandwidth) for pattern, bandwidth in GPU_BANDWIDTH_GBPS)


def gpu_bandwidth_gbps(name: str | None) -> float | None:
    """The memory bandwidth of the GPU called `name`, or None when the table does not know it."""
    if not name:
        return None
    normalized = re.sub(r"\s+", " ", name.lower().replace("-", " ")).strip()
    normalized = normalized.replace("laptop gpu", "laptop")
    laptop = "laptop" in normalized or "mobile" in normalized
    for pattern, bandwidth in _COMPILED:
        if pattern.search(normalized):
            if laptop and "laptop" not in pattern.pattern:
                return None  # a laptop part scored as its desktop twin would be 2x too fast
            return bandwidth
    return None
