from typing import Any

def convert(
    src: Any,  # a contiguous buffer of bytes (the data records)
    offset: int,
    record_bytes: int,
    n_records: int,
    spr: int,
    dst: Any,  # a writable contiguous float32 buffer of n_records * spr values
    bytes_per_sample: int,
    gain: float,
    add: float,
    dmin: int,
    dmax: int,
    /,
) -> tuple[int, int]: ...
