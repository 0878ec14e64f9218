from typing_extensions import Buffer

def convert(
    src: Buffer,
    offset: int,
    record_bytes: int,
    n_records: int,
    spr: int,
    dst: Buffer,
    bytes_per_sample: int,
    gain: float,
    add: float,
    dmin: int,
    dmax: int,
    /,
) -> tuple[int, int]: ...
