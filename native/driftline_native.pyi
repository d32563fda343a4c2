"""Types of the native decoder's extension module (native/src/py.rs)."""

import numpy as np
import numpy.typing as npt

__version__: str

class Decoder:
    """One deployment's reader: field paths, schema, settings; built once, used per batch."""

    def __init__(self, *, fields: list[tuple[str, list[str]]], numeric: list[str],
                 categorical: list[str], segments: list[str], labels: bool,
                 model_id: str | None, floor: float, max_message_bytes: int,
                 label_columns: bool = False) -> None: ...
    def decode(self, messages: list[bytes]) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], list[npt.NDArray[np.float64]],
        list[tuple[list[str], npt.NDArray[np.int32]]], npt.NDArray[np.int64]]:
        """(accepted rows, rejected rows, float columns, string columns as dictionaries,
        the event ids' keys with label columns)."""
