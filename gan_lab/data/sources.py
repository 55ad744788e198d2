"""A one-line summary of the real data this machine has (printed by ``gan_lab.setup()``).

Only folder listings: no hashing, no loading and no ``import medmnist`` (slow),
so it costs milliseconds.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import config

# official MedMNIST file names: "{flag}.npz" (28 px) or "{flag}_{size}.npz"; 3-D flags end in "3d"
_MEDMNIST_FILE = re.compile(r"^(?P<flag>[a-z]+mnist(?P<three_d>3d)?)(?:_(?P<size>64|128|224))?\.npz$")


def medmnist_files() -> dict[str, list[str]]:
    """``{folder: [2-D flags with a file there]}`` over the MedMNIST search path (no root)."""
    folders = config.data_roots("medmnist") + [Path.home() / ".medmnist"]  # medmnist's DEFAULT_ROOT
    found: dict[str, list[str]] = {}
    for folder in dict.fromkeys(folders):  # unique, in order
        if not folder.is_dir():
            continue
        matches = [_MEDMNIST_FILE.match(p.name) for p in folder.iterdir()]
        flags = {m["flag"] for m in matches if m and not m["three_d"]}
        if flags:
            found[str(folder)] = sorted(flags)
    return found


def nuclei_found() -> bool:
    """Whether a ``stage1_train/`` folder is on the nuclei search path."""
    return any((folder / "stage1_train").is_dir() for folder in config.data_roots("dsb2018_nuclei"))


def describe_sources() -> str:
    """One line naming the real datasets found, or saying that phantoms stand in for them.

    Example:
        >>> describe_sources()  # doctest: +SKIP
        'real MedMNIST in /data/medmnist (breastmnist, pneumoniamnist); nuclei: found'
    """
    parts = [f"real MedMNIST in {folder} ({', '.join(flags)})" for folder, flags in medmnist_files().items()]
    if nuclei_found():
        parts.append("nuclei: found")
    if not parts:
        return "no real data found: phantoms (set GAN_LAB_DATA or download=True)"
    if len(parts) == 1 and parts[0] == "nuclei: found":
        parts.insert(0, "no MedMNIST files (phantoms stand in)")
    return "; ".join(parts)
