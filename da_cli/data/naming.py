"""The name each source goes by where the model sees it: in the profile ("from
sales.csv") and in the sandbox's working directory, where generated code opens it by that
relative path. A file's own name, unless two sources share it: then as many of its parent
folders as tell them apart ("2024/sales.csv", "2025/sales.csv")."""

from pathlib import PurePath


def source_names(sources: list[str]) -> dict[str, str]:
    """Source path -> a relative name, unique among `sources`."""
    names: dict[str, str] = {}
    for src in dict.fromkeys(sources):
        parts = PurePath(src).parts
        for depth in range(1, len(parts) + 1):
            name = str(PurePath(*parts[-depth:]))
            rivals = [
                s for s in sources if s != src and PurePath(s).parts[-depth:] == parts[-depth:]
            ]
            if not rivals or depth == len(parts):
                names[src] = name.lstrip("/")
                break
    return names
